package odcs

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestIgnoredFields loads a contract that sets every ODCS key meshwatch
// does not use (testdata/contracts/ignored) and checks that each key that
// the decoder accepts without reading (odcsIgnored) is named by an
// "ignored:" warning at an object of its type, so that a key added to the
// types is reported or this test fails.
func TestIgnoredFields(t *testing.T) {
	named := ignoredKeys(t, "testdata/contracts/ignored/everything.odcs.yaml")
	simple := ignoredKeys(t, "testdata/contracts/ignored/simple.yaml")
	types := []struct {
		t    reflect.Type
		path *regexp.Regexp
	}{
		{reflect.TypeFor[odcsContract](), regexp.MustCompile(`^$`)},
		{reflect.TypeFor[odcsTeam](), regexp.MustCompile(`^team$`)},
		{reflect.TypeFor[odcsSupport](), regexp.MustCompile(`^support\[\d+\]$`)},
		{reflect.TypeFor[odcsObject](), regexp.MustCompile(`^schema\[\d+\]$`)},
		{reflect.TypeFor[odcsProperty](), regexp.MustCompile(`^schema\[\d+\](\.properties\[\d+\])+$`)},
		{reflect.TypeFor[odcsQuality](), regexp.MustCompile(`\.quality\[\d+\]$`)},
		{reflect.TypeFor[odcsSLA](), regexp.MustCompile(`^slaProperties\[\d+\]$`)},
		{reflect.TypeFor[odcsCustomProperty](), regexp.MustCompile(`^customProperties\[\d+\]$`)},
	}
	simpleTypes := []struct {
		t    reflect.Type
		path *regexp.Regexp
	}{
		{reflect.TypeFor[simpleContract](), regexp.MustCompile(`^contract$`)},
		{reflect.TypeFor[simpleSchema](), regexp.MustCompile(`^contract\.schema$`)},
		{reflect.TypeFor[simpleQuality](), regexp.MustCompile(`^contract\.quality$`)},
	}
	for _, tt := range append(types, simpleTypes...) {
		named := named
		if strings.HasPrefix(tt.t.Name(), "simple") {
			named = simple
		}
		for key, f := range yamlFields(tt.t) {
			if f.Type != ignoredType {
				continue
			}
			found := false
			for path, keys := range named {
				if tt.path.MatchString(path) && slices.Contains(keys, key) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s.%s is not named by an ignored: warning", tt.t.Name(), key)
			}
		}
	}
	// Keys read in part or under conditions.
	for path, key := range map[string]string{
		"":                                   "dataProduct", // name is set
		"description":                        "usage",       // purpose is the description
		"servers[0]":                         "environment",
		"servers[1]":                         "format", // the format is servers[0]'s
		"schema[0].properties[1]":            "primaryKeyPosition",
		"schema[0].properties[1].quality[0]": "name", // the id names the rule
		"schema[0].properties[2].quality[0]": "id",   // not a rule
	} {
		if !slices.Contains(named[path], key) {
			t.Errorf("%s of %q is not named by an ignored: warning; named %v", key, path, named)
		}
	}
	for _, path := range []string{"support[1]", "servers[2]", "customProperties[1]"} {
		if _, ok := named[path]; !ok {
			t.Errorf("entry %s is not reported as ignored", path)
		}
	}
	// Keys used are not named.
	for path, key := range map[string]string{
		"schema[0].properties[0]":            "primaryKeyPosition", // of a primaryKey, reported apart
		"schema[0].properties[1].quality[0]": "id",
		"servers[0]":                         "format",
		"team":                               "name",
	} {
		if slices.Contains(named[path], key) {
			t.Errorf("%s of %q is named ignored, but it is used", key, path)
		}
	}
}

// ignoredKeys loads the contract file and returns, by path, the keys that
// its "ignored:" warnings name.
func ignoredKeys(t *testing.T, file string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, ps := Load(file, data)
	if c == nil || len(ps.Errors()) > 0 {
		t.Fatalf("Load: %v", ps)
	}
	named := map[string][]string{}
	for _, p := range ps.Warnings() {
		if rest, ok := strings.CutPrefix(p.Msg, "ignored: "); ok {
			list, _, _ := strings.Cut(rest, " (")
			named[p.Path] = append(named[p.Path], strings.Split(list, ", ")...)
			if p.Pos.Line == 0 || p.Pos.Col == 0 {
				t.Errorf("%s: not placed at a line and column", p)
			}
		}
	}
	return named
}
