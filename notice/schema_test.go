package notice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// Versions of checkout.orders.placed's value schema. The doc string, the
// enum symbol and the default are what a message must never quote.
const (
	schemaV1 = `{"type":"record","name":"Order","doc":"SECRET-DOC","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"}]}`
	// v2 adds a field with a default: compatible.
	schemaV2 = `{"type":"record","name":"Order","doc":"SECRET-DOC","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"},{"name":"note","type":"string","default":"SECRET-DEFAULT"}]}`
	// v3 adds a field without a default: the new schema cannot read old
	// data, incompatible under BACKWARD. A real registry would refuse it
	// unless the level was NONE when it was registered; the fake takes it.
	schemaV3 = `{"type":"record","name":"Order","doc":"SECRET-DOC","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"},{"name":"note","type":"string","default":"SECRET-DEFAULT"},{"name":"currency","type":{"type":"enum","name":"Cur","symbols":["SECRETSYM"]}}]}`
	// v4 drops "amount": compatible under BACKWARD.
	schemaV4 = `{"type":"record","name":"Order","doc":"SECRET-DOC","fields":[{"name":"id","type":"string"},{"name":"note","type":"string","default":"SECRET-DEFAULT"},{"name":"currency","type":{"type":"enum","name":"Cur","symbols":["SECRETSYM"]}}]}`
)

// secrets are what no notice, log line or error may hold.
var secrets = []string{"SECRET-DOC", "SECRET-DEFAULT", "SECRETSYM", `"fields"`}

// withRegistry is newFixture with a schema registry fake.
func withRegistry(t *testing.T, cfg *meshwatch.Config) (*fixture, *srtest.Server) {
	t.Helper()
	srv := srtest.New(t, srtest.BasicAuth("meshwatch", "pw"))
	cl, err := sr.NewClient(sr.URLs(srv.URL()), sr.BasicAuth("meshwatch", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	return newFixture(t, cfg, day0("2026-12-05T10:00:00Z"), cl), srv
}

func registerSchema(t *testing.T, srv *srtest.Server, subject, schema string) int {
	t.Helper()
	_, v, err := srv.Register(subject, sr.Schema{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// noSecrets fails when a notice, the log or an error quotes a schema.
func noSecrets(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %q: %s", where, s, text)
			}
		}
	}
}

func texts(anns []Notice) []string {
	var out []string
	for _, a := range anns {
		out = append(out, a.Text)
	}
	return out
}

// TestSchemaChanges registers versions one after another and checks that
// each is told once to each team, flagged breaking when it is.
func TestSchemaChanges(t *testing.T) {
	cfg := mesh(t, nil)
	f, srv := withRegistry(t, cfg)
	all := []string{"#analytics", "#fraud"}
	var told []string

	registerSchema(t, srv, ordersSubject, schemaV1)
	if got := f.check(t); len(got) != 0 {
		t.Fatalf("the first version is a baseline; told %v", channels(got))
	}

	steps := []struct {
		name  string
		setup func()
		want  []string // channels told at the first pass
		text  string   // what fraud-team reads
		kind  string
	}{
		{
			name:  "compatible v2",
			setup: func() { registerSchema(t, srv, ordersSubject, schemaV2) },
			want:  all, kind: KindSchemaChange,
			text: "Schema change: checkout.orders.placed (subject checkout.orders.placed-value) is at version 2, was 1. It is compatible with version 1 (BACKWARD). Affected: group fraud-detector; product payments.fraud.scored.",
		},
		{
			name:  "incompatible v3",
			setup: func() { registerSchema(t, srv, ordersSubject, schemaV3) },
			want:  all, kind: KindSchemaBreaking,
			text: "Schema change: checkout.orders.placed (subject checkout.orders.placed-value) is at version 3, was 2. BREAKING: the registry finds it incompatible with version 2 (BACKWARD). Affected: group fraud-detector; product payments.fraud.scored.",
		},
		{
			name: "v4 under NONE",
			setup: func() {
				srv.SetCompatibility(ordersSubject, "NONE")
				registerSchema(t, srv, ordersSubject, schemaV4)
			},
			want: all, kind: KindSchemaBreaking,
			text: "Schema change: checkout.orders.placed (subject checkout.orders.placed-value) is at version 4, was 3. BREAKING (compatibility NONE: the registry checks nothing). Affected: group fraud-detector; product payments.fraud.scored.",
		},
		{
			name: "v5 and v6 between two passes, global FULL",
			setup: func() {
				srv.SetCompatibility(ordersSubject, "") // back to the global level
				srv.SetCompatibility("", "FULL")
				registerSchema(t, srv, ordersSubject, schemaV4+" ")  // v5, v4's record
				registerSchema(t, srv, ordersSubject, schemaV4+"  ") // v6, the same
			},
			want: all, kind: KindSchemaChange,
			text: "Schema change: checkout.orders.placed (subject checkout.orders.placed-value) is at version 6, was 4. It is compatible with version 4 (FULL). Affected: group fraud-detector; product payments.fraud.scored.",
		},
	}
	for _, s := range steps {
		s.setup()
		before := f.notices(s.kind)
		got := f.check(t)
		if !slices.Equal(channels(got), s.want) {
			t.Fatalf("%s: told %v, want %v", s.name, channels(got), s.want)
		}
		for _, a := range got {
			if a.Kind != AnnounceSchemaChange {
				t.Errorf("%s: announcement kind %q", s.name, a.Kind)
			}
			if a.Channel == "#fraud" && a.Text != s.text {
				t.Errorf("%s: fraud-team was told\n%q, want\n%q", s.name, a.Text, s.text)
			}
		}
		if n := f.notices(s.kind) - before; n != float64(len(s.want)) {
			t.Errorf("%s: %s notices counted %v, want %d", s.name, s.kind, n, len(s.want))
		}
		told = append(told, texts(got)...)
		// Further passes, and a restart, tell nothing more.
		for i := range 3 {
			if i == 1 {
				f.restart(t)
			}
			if got := f.check(t); len(got) != 0 {
				t.Fatalf("%s: pass %d told %v again", s.name, i+2, channels(got))
			}
		}
	}
	noSecrets(t, "a notice", told...)
	noSecrets(t, "the log", f.logs())
	if e := f.errs(StepRegistry); e != 0 {
		t.Errorf("registry errors = %v, want 0", e)
	}
}

// TestSchemaSubjects checks which subjects are read: the named topics of
// avro and protobuf products, not patterns, not json products; a subject
// the registry lacks is skipped silently.
func TestSchemaSubjects(t *testing.T) {
	cfg := mesh(t, func(c *meshwatch.Config) {
		c.Products[1].Format = meshwatch.FormatProtobuf
	})
	f, srv := withRegistry(t, cfg)
	before := srv.Requests()
	got := f.check(t) // neither subject is registered
	if len(got) != 0 {
		t.Fatalf("told %v", channels(got))
	}
	// orders (avro) and orders.v2 (protobuf): one request each; the
	// pattern and the json product none.
	if n := srv.Requests() - before; n != 2 {
		t.Errorf("%d requests, want 2 (one latest version per subject)", n)
	}
	if e := f.errs(StepRegistry); e != 0 || strings.Contains(f.logs(), "registry") {
		t.Errorf("a missing subject counted (%v) or logged:\n%s", e, f.logs())
	}

	// Registered later: its first version is a baseline still.
	registerSchema(t, srv, ordersSubject, schemaV1)
	if got := f.check(t); len(got) != 0 {
		t.Fatalf("a subject registered after the first pass: told %v", channels(got))
	}

	// A protobuf subject: the fake checks nothing unless told.
	v2 := ordersV2 + "-value"
	cfg.Products[1].Consumers = []meshwatch.Consumer{{Group: "fraud-v2", Owner: "fraud-team"}}
	proto := sr.Schema{Schema: `syntax = "proto3"; message Order { string id = 1; }`, Type: sr.TypeProtobuf}
	if _, _, err := srv.Register(v2, proto); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	proto.Schema = `syntax = "proto3"; message Order { int64 id = 1; }`
	if _, _, err := srv.Register(v2, proto); err != nil {
		t.Fatal(err)
	}
	srv.SetIncompatible(v2, true)
	got = f.check(t)
	if len(got) != 1 || got[0].Channel != "#fraud" || !strings.Contains(got[0].Text, "is at version 2, was 1. BREAKING: the registry finds it incompatible with version 1 (BACKWARD). Affected: group fraud-v2.") {
		t.Fatalf("protobuf incompatible: told %+v", got)
	}
}

// TestSchemaRegistryFailure checks that a failing registry is counted,
// logged once, leaves the baseline where it was, and that the change is
// told once it answers again.
func TestSchemaRegistryFailure(t *testing.T) {
	cfg := mesh(t, nil)
	f, srv := withRegistry(t, cfg)
	registerSchema(t, srv, ordersSubject, schemaV1)
	f.check(t)
	registerSchema(t, srv, ordersSubject, schemaV2)

	srv.SetFailing(true)
	for range 2 {
		err := f.n.Check(context.Background())
		var re *sr.ResponseError
		if err == nil || errors.As(err, &re) {
			t.Fatalf("Check with the registry down = %v, want a cleaned error", err)
		}
		if !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), ordersSubject) {
			t.Errorf("error %q names neither the status nor the subject", err)
		}
	}
	if got := f.ann.take(); len(got) != 0 {
		t.Fatalf("told %v with the registry down", channels(got))
	}
	if e := f.errs(StepRegistry); e != 4 {
		t.Errorf("registry errors = %v, want 4 (two subjects, two passes)", e)
	}
	if c := strings.Count(f.logs(), "registry "+ordersSubject+" failed"); c != 1 {
		t.Errorf("the registry failure was logged %d times, want once:\n%s", c, f.logs())
	}

	srv.SetFailing(false)
	got := f.check(t)
	if !slices.Equal(channels(got), []string{"#analytics", "#fraud"}) || !strings.Contains(got[0].Text, "is at version 2, was 1. It is compatible") {
		t.Fatalf("after the outage: told %+v", got)
	}
	if !strings.Contains(f.logs(), "works again") {
		t.Errorf("the recovery was not logged:\n%s", f.logs())
	}
}

// TestSchemaErrorsQuoteNoSchema makes the registry fail with a message
// that quotes the schema (as Confluent's 42201 does) and checks that
// neither the error nor the log repeats it.
func TestSchemaErrorsQuoteNoSchema(t *testing.T) {
	cfg := mesh(t, nil)
	f, srv := withRegistry(t, cfg)
	registerSchema(t, srv, ordersSubject, schemaV1)
	f.check(t)
	// Not Avro: the fake's check answers 42201 with the parser's error.
	registerSchema(t, srv, ordersSubject, `{"type":"record","name":"Order","doc":"SECRET-DOC","fields":[{"name":"x","type":"SECRETSYM"}]}`)
	err := f.n.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "42201") {
		t.Fatalf("Check = %v, want the 42201", err)
	}
	noSecrets(t, "the error", err.Error())
	noSecrets(t, "the log", f.logs())

	re := &sr.ResponseError{Method: http.MethodPost, URL: "http://127.0.0.1/x", StatusCode: 422, ErrorCode: 42201,
		Message: "Invalid schema " + schemaV1, Raw: []byte(`{"message":"` + schemaV1 + `"}`)}
	got := cleanRegistryError(fmt.Errorf("wrapped: %w", re)).Error()
	noSecrets(t, "a cleaned error", got)
	if got != "HTTP 422, error code 42201 (INVALID_SCHEMA)" {
		t.Errorf("cleaned error = %q", got)
	}
}

// TestSchemaAndDeprecation is the acceptance: a deprecation and a breaking
// schema change reach each consumer once, over passes and a restart.
func TestSchemaAndDeprecation(t *testing.T) {
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))
	f, srv := withRegistry(t, cfg)
	registerSchema(t, srv, ordersSubject, schemaV1)

	var all []Notice
	for i := range 4 {
		switch i {
		case 1:
			registerSchema(t, srv, ordersSubject, schemaV3) // v2: a field without a default
		case 2:
			f.restart(t)
		}
		f.now = f.now.Add(time.Hour)
		all = append(all, f.check(t)...)
	}
	count := map[string]int{}
	for _, a := range all {
		count[a.Channel+" "+a.Kind]++
	}
	want := map[string]int{
		"#analytics deprecation": 1, "#fraud deprecation": 1,
		"#analytics schema_change": 1, "#fraud schema_change": 1,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("told %v, want %v", count, want)
	}
	for _, a := range all {
		if a.Kind == AnnounceSchemaChange && !strings.Contains(a.Text, "is at version 2, was 1. BREAKING: the registry finds it incompatible with version 1 (BACKWARD).") {
			t.Errorf("schema notice %q", a.Text)
		}
	}
	noSecrets(t, "a notice", texts(all)...)
}

// TestSchemaAnnounceFailure checks that a team whose notice failed hears of
// the change at the next pass, and the teams told already do not.
func TestSchemaAnnounceFailure(t *testing.T) {
	cfg := mesh(t, nil)
	f, srv := withRegistry(t, cfg)
	registerSchema(t, srv, ordersSubject, schemaV1)
	f.check(t)
	registerSchema(t, srv, ordersSubject, schemaV2)

	down := errors.New("outbox full")
	f.ann.fail = func(ch string) error {
		if ch == "#fraud" {
			return down
		}
		return nil
	}
	if err := f.n.Check(context.Background()); !errors.Is(err, down) {
		t.Fatalf("Check = %v, want the announce error", err)
	}
	if got := channels(f.ann.take()); !slices.Equal(got, []string{"#analytics"}) {
		t.Fatalf("told %v, want #analytics", got)
	}
	f.ann.fail = nil
	f.restart(t) // what was told survives a restart too
	got := f.check(t)
	if !slices.Equal(channels(got), []string{"#fraud"}) || !strings.Contains(got[0].Text, "is at version 2, was 1. It is compatible with version 1 (BACKWARD).") {
		t.Fatalf("after the failure: told %+v, want #fraud of version 2", got)
	}
	if got := f.check(t); len(got) != 0 {
		t.Fatalf("then: told %v", channels(got))
	}
	if e := f.errs(StepAnnounce); e != 1 {
		t.Errorf("announce errors = %v, want 1", e)
	}
}
