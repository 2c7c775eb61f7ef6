package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshwatch/meshwatch"
)

const fuzzSecret = "Zq8-fuzz-s3cr3t-Xk2"

func fuzzEnv(name string) (string, bool) {
	switch name {
	case "KAFKA_PASSWORD", "API_TOKEN":
		return fuzzSecret, true
	case "BROKER":
		return "kafka-1:9092", true
	case "TIER":
		return "1", true
	case "EMPTY":
		return "", true
	}
	return "", false
}

// FuzzLoad loads arbitrary bytes. Beyond not panicking, Load must keep its
// promises: a Config only without errors, and then complete and valid; every
// problem placed; no secret in any problem; a Config that writes out and
// loads back the same.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*/*.yaml")
	files = append(files, exampleConfig)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"products: [{name: a.b.c, domain: a, owner: o, topics: [t]}]\nowners: {o: {}}\ncluster: {brokers: [\"${BROKER}\"]}",
		"cluster: {sasl: {mechanism: PLAIN, username: u, password: \"${KAFKA_PASSWORD}\"}, brokers: [\"${KAFKA_PASSWORD}\"]}",
		"products: [{tier: \"${TIER}\", name: \"${API_TOKEN}\", slos: [{objective: \"${KAFKA_PASSWORD:-1}\"}]}]",
		"a: &a [*a]\nproducts: *a",
		"products:\n  - &p {name: a.b.c}\n  - <<: *p\n    <<: *p",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, ps, err := Load("fuzz.yaml", data, fuzzEnv)
		checkLoad(t, data, cfg, ps, err)
		if err != nil || cfg.Kafka.SASL != nil {
			// A written-out secret is "<secret>", which does not load back.
			return
		}
		out, err := YAML(cfg)
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		again, ps2, err := Load("fuzz.yaml", out, nil)
		if err != nil {
			t.Fatalf("Load(YAML()): %v\nYAML:\n%s", err, out)
		}
		if diff := cmp.Diff(cfg, again, cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}, Config{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Load(YAML()) differs (-before +after):\n%s\nYAML:\n%s", diff, out)
		}
		if !cmp.Equal(ps, ps2, cmpopts.IgnoreFields(meshwatch.Problem{}, "Pos"), cmpopts.EquateEmpty()) {
			t.Fatalf("Load(YAML()) warns differently:\n%v\nthen:\n%v", ps, ps2)
		}
	})
}

func checkLoad(t *testing.T, data []byte, cfg *Config, ps meshwatch.Problems, err error) {
	t.Helper()
	if hasErrors := len(ps.Errors()) > 0; (err != nil) != hasErrors {
		t.Fatalf("error %v with error-level problems: %v", err, hasErrors)
	}
	if err != nil {
		if cfg != nil {
			t.Fatal("Load returned a Config with an error")
		}
		if got := meshwatch.Problems(nil); !errors.As(err, &got) || !cmp.Equal(got, ps) {
			t.Fatalf("error is %T, not the problems", err)
		}
	}
	for _, p := range ps {
		if p.Path == "" && p.Pos.Line == 0 {
			t.Errorf("problem without path or line: %#v", p)
		}
		// A contract that the input names, should it exist, has problems
		// of its own.
		if p.Pos.File != "fuzz.yaml" && !bytes.Contains(data, []byte("contracts")) {
			t.Errorf("problem in file %q, want fuzz.yaml: %v", p.Pos.File, p)
		}
		if p.Msg == "" {
			t.Errorf("problem without a message: %#v", p)
		}
		if !bytes.Contains(data, []byte(fuzzSecret)) && strings.Contains(p.String(), fuzzSecret) {
			t.Errorf("problem shows a secret: %v", p)
		}
	}
	if !slices.IsSortedFunc(ps, func(a, b meshwatch.Problem) int {
		if a.Pos.File != b.Pos.File {
			return 0 // the files are in the order they were read
		}
		return a.Pos.Line - b.Pos.Line
	}) {
		t.Errorf("problems are not sorted by line:\n%v", ps)
	}
	if err != nil {
		return
	}
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("Load succeeded but Validate finds:\n%v", errs)
	}
	for i, p := range cfg.Products {
		if p.Tier == 0 || p.Format == "" || p.EventTime.Format == "" || p.Sampling.MaxRecordsPerSecond <= 0 || p.Sampling.MaxBytesPerSecond <= 0 {
			t.Errorf("products[%d] lacks its defaults: %+v", i, p)
		}
		for j, s := range p.SLOs {
			if s.Window == "" {
				t.Errorf("products[%d].slos[%d] lacks its window", i, j)
			}
		}
	}
}
