package srtest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestServerWithFranzClient(t *testing.T) {
	s := New(t, BasicAuth("u", "p"))
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.URL()), sr.BasicAuth("u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := sr.Schema{Schema: `{"type":"string"}`}
	v2 := sr.Schema{
		Schema:         `syntax = "proto3"; message M { string a = 1; }`,
		Type:           sr.TypeProtobuf,
		SchemaMetadata: &sr.SchemaMetadata{Properties: map[string]string{"owner": "team-a"}},
		SchemaRuleSet:  &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{Name: "r", Kind: sr.SchemaRuleKindCondition, Type: "CEL", Expr: "true"}}},
	}
	id1 := s.MustRegister(t, "t-value", v1)
	created, err := cl.CreateSchema(ctx, "t-value", v2) // POST, then a lookup of the version
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == id1 || created.Version != 2 {
		t.Errorf("second schema: id %d (first %d), version %d; want a new id, version 2", created.ID, id1, created.Version)
	}
	if again := s.MustRegister(t, "other-value", v1); again != id1 {
		t.Errorf("the same schema under another subject got id %d, want %d", again, id1)
	}

	got, err := cl.SchemaByID(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != sr.TypeProtobuf || got.SchemaMetadata.Properties["owner"] != "team-a" || got.SchemaRuleSet.DomainRules[0].Expr != "true" {
		t.Errorf("schema by id = %+v", got)
	}
	latest, err := cl.SchemaByVersion(ctx, "t-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != created.ID {
		t.Errorf("latest = %+v, %v; want version 2", latest, err)
	}
	if vs, err := cl.SubjectVersions(ctx, "t-value"); err != nil || len(vs) != 2 {
		t.Errorf("versions = %v, %v", vs, err)
	}

	var re *sr.ResponseError
	if _, err := cl.SchemaByID(ctx, 999); !errors.As(err, &re) || re.ErrorCode != 40403 || re.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %v, want 40403", err)
	}
	if _, err := cl.SchemaByVersion(ctx, "nope", -1); !errors.As(err, &re) || re.ErrorCode != 40401 {
		t.Errorf("unknown subject: %v, want 40401", err)
	}
	noAuth, _ := sr.NewClient(sr.URLs(s.URL()))
	if _, err := noAuth.SchemaByID(ctx, id1); !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %v, want 401", err)
	}
	s.SetFailing(true)
	if _, err := cl.SchemaByID(ctx, id1); !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("failing: %v, want 503", err)
	}
}

// Avro versions of one record: v2 adds a field with a default (compatible
// both ways), v3 drops "amount", which has no default (new readers still
// read old data, old readers cannot read new data), and v4 adds a field
// without a default (old data cannot be read with it).
const (
	orderV1 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"}]}`
	orderV2 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"},{"name":"note","type":"string","default":""}]}`
	orderV3 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":"string","default":""}]}`
	orderV4 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":"string","default":""},{"name":"currency","type":"string"}]}`
)

func TestCompatibilityConfig(t *testing.T) {
	s := New(t, BearerToken("tok"))
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.URL()), sr.BearerToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	level := func(ctx context.Context, subject string) (sr.CompatibilityLevel, error) {
		t.Helper()
		res := cl.Compatibility(ctx, subject)
		if len(res) != 1 {
			t.Fatalf("Compatibility(%q) gave %d results", subject, len(res))
		}
		return res[0].Level, res[0].Err
	}
	if l, err := level(ctx, sr.GlobalSubject); err != nil || l != sr.CompatBackward {
		t.Errorf("global level = %v, %v; want BACKWARD by default", l, err)
	}
	var re *sr.ResponseError
	if _, err := level(ctx, "t-value"); !errors.As(err, &re) || re.ErrorCode != 40408 || re.StatusCode != http.StatusNotFound {
		t.Errorf("subject without a level: %v, want 40408", err)
	}
	global := sr.WithParams(ctx, sr.DefaultToGlobal)
	if l, err := level(global, "t-value"); err != nil || l != sr.CompatBackward {
		t.Errorf("subject level defaulting to global = %v, %v; want BACKWARD", l, err)
	}

	res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "t-value")
	if res[0].Err != nil || res[0].Level != sr.CompatFull {
		t.Errorf("set subject level: %+v", res[0])
	}
	if l, err := level(ctx, "t-value"); err != nil || l != sr.CompatFull {
		t.Errorf("subject level = %v, %v; want FULL", l, err)
	}
	res = cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone})
	if res[0].Err != nil || res[0].Level != sr.CompatNone {
		t.Errorf("set global level: %+v", res[0])
	}
	if l, err := level(ctx, sr.GlobalSubject); err != nil || l != sr.CompatNone {
		t.Errorf("global level = %v, %v; want NONE", l, err)
	}
	if l, err := level(global, "t-value"); err != nil || l != sr.CompatFull {
		t.Errorf("a subject's own level wins over the global one: %v, %v", l, err)
	}
	s.SetCompatibility("other-value", "forward_transitive")
	if l, err := level(ctx, "other-value"); err != nil || l != sr.CompatForwardTransitive {
		t.Errorf("level set on the server = %v, %v; want FORWARD_TRANSITIVE", l, err)
	}
	if res := cl.ResetCompatibility(ctx, "t-value"); res[0].Err != nil || res[0].Level != sr.CompatFull {
		t.Errorf("reset: %+v, want the dropped level FULL", res[0])
	}
	if l, err := level(global, "t-value"); err != nil || l != sr.CompatNone {
		t.Errorf("after a reset the global level applies: %v, %v", l, err)
	}

	var echo map[string]string
	if err := cl.Do(ctx, http.MethodPut, "/config/t-value", map[string]string{"compatibility": "full_transitive"}, &echo); err != nil || len(echo) != 1 || echo["compatibility"] != "FULL_TRANSITIVE" {
		t.Errorf("PUT /config/t-value answered %v, %v; want {\"compatibility\":\"FULL_TRANSITIVE\"}", echo, err)
	}
	var out map[string]any
	err = cl.Do(ctx, http.MethodPut, "/config", map[string]string{"compatibility": "SOMETIMES"}, &out)
	if !errors.As(err, &re) || re.ErrorCode != 42203 {
		t.Errorf("unknown level: %v, want 42203", err)
	}
}

func TestCheckCompatibilityAvro(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	const subject = "orders-value"
	s.MustRegister(t, subject, sr.Schema{Schema: orderV1})
	s.MustRegister(t, subject, sr.Schema{Schema: orderV2})

	verbose := sr.WithParams(ctx, sr.Verbose)
	for _, tc := range []struct {
		level   string
		version int
		schema  string
		want    bool
	}{
		{"BACKWARD", -1, orderV3, true},  // drops a field: new readers skip it in old data
		{"FORWARD", -1, orderV3, false},  // old readers miss "amount" in new data
		{"FULL", -1, orderV3, false},     // both ways
		{"BACKWARD", -1, orderV4, false}, // a new field without a default: old data lacks it
		{"FORWARD", -1, orderV4, false},  // and old readers miss "amount"
		{"FORWARD", 2, orderV2, true},    // the same schema
		{"FULL", 1, orderV2, true},       // a field with a default, both ways
		{"NONE", -1, orderV4, true},      // the registry checks nothing
		{"BACKWARD", 1, orderV3, true},   // against version 1 only
		{"FULL_TRANSITIVE", 2, orderV2, true},
	} {
		s.SetCompatibility(subject, tc.level)
		got, err := cl.CheckCompatibility(verbose, subject, tc.version, sr.Schema{Schema: tc.schema})
		if err != nil {
			t.Fatalf("%s against %d: %v", tc.level, tc.version, err)
		}
		if got.Is != tc.want {
			t.Errorf("%s against %d: compatible = %v, want %v (%v)", tc.level, tc.version, got.Is, tc.want, got.Messages)
		}
		if !got.Is && len(got.Messages) == 0 {
			t.Errorf("%s against %d: incompatible without messages in verbose mode", tc.level, tc.version)
		}
	}

	// Without verbose=true there are no messages.
	s.SetCompatibility(subject, "FULL")
	got, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: orderV3})
	if err != nil || got.Is || len(got.Messages) != 0 {
		t.Errorf("not verbose: %+v, %v; want incompatible, no messages", got, err)
	}

	// Transitive levels check every version up to the named one. A record
	// of "id" alone is forward compatible with version 3 (which reads it,
	// "note" having a default) but not with version 1, which needs "amount":
	// only the transitive check finds that.
	s.MustRegister(t, subject, sr.Schema{Schema: orderV3})
	backV1 := `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`
	s.SetCompatibility(subject, "FORWARD")
	if got, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: backV1}); err != nil || !got.Is {
		t.Errorf("FORWARD against the latest (v3 reads {id}): %+v, %v; want compatible", got, err)
	}
	s.SetCompatibility(subject, "FORWARD_TRANSITIVE")
	if got, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: backV1}); err != nil || got.Is {
		t.Errorf("FORWARD_TRANSITIVE (v1 needs amount): %+v, %v; want incompatible", got, err)
	}
	if got, err := cl.CheckCompatibility(ctx, subject, -2, sr.Schema{Schema: backV1}); err != nil || got.Is {
		t.Errorf("FORWARD_TRANSITIVE against all versions: %+v, %v; want incompatible", got, err)
	}

	// A named version is checked, not the latest: a record requiring
	// "amount" reads version 1's data, not version 3's.
	s.SetCompatibility(subject, "BACKWARD")
	if got, err := cl.CheckCompatibility(ctx, subject, 1, sr.Schema{Schema: orderV1}); err != nil || !got.Is {
		t.Errorf("BACKWARD against version 1: %+v, %v; want compatible", got, err)
	}
	if got, err := cl.CheckCompatibility(ctx, subject, 3, sr.Schema{Schema: orderV1}); err != nil || got.Is {
		t.Errorf("BACKWARD against version 3: %+v, %v; want incompatible", got, err)
	}

	var re *sr.ResponseError
	if _, err := cl.CheckCompatibility(ctx, subject, 9, sr.Schema{Schema: orderV1}); !errors.As(err, &re) || re.ErrorCode != 40402 {
		t.Errorf("unknown version: %v, want 40402", err)
	}
	if _, err := cl.CheckCompatibility(ctx, "nope-value", -1, sr.Schema{Schema: orderV1}); !errors.As(err, &re) || re.ErrorCode != 40401 {
		t.Errorf("unknown subject: %v, want 40401", err)
	}
	if _, err := cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: `{"type":"record"`}); !errors.As(err, &re) || re.ErrorCode != 42201 {
		t.Errorf("invalid schema: %v, want 42201", err)
	}
}

func TestCheckCompatibilityAvroReferences(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	s.MustRegister(t, "currency", sr.Schema{Schema: `{"type":"enum","name":"Currency","symbols":["EUR","USD"]}`})
	s.MustRegister(t, "money", sr.Schema{
		Schema:     `{"type":"record","name":"Money","fields":[{"name":"cents","type":"long"},{"name":"cur","type":"Currency"}]}`,
		References: []sr.SchemaReference{{Name: "Currency", Subject: "currency", Version: 1}},
	})
	ref := []sr.SchemaReference{{Name: "Money", Subject: "money", Version: 1}}
	s.MustRegister(t, "pay-value", sr.Schema{Schema: `{"type":"record","name":"Pay","fields":[{"name":"m","type":"Money"}]}`, References: ref})
	next := sr.Schema{Schema: `{"type":"record","name":"Pay","fields":[{"name":"m","type":"Money"},{"name":"n","type":"int","default":0}]}`, References: ref}
	if got, err := cl.CheckCompatibility(ctx, "pay-value", -1, next); err != nil || !got.Is {
		t.Errorf("with a reference, which has one of its own: %+v, %v; want compatible", got, err)
	}
	var re *sr.ResponseError
	bad := sr.Schema{Schema: next.Schema, References: []sr.SchemaReference{{Name: "Money", Subject: "money", Version: 7}}}
	if _, err := cl.CheckCompatibility(ctx, "pay-value", -1, bad); !errors.As(err, &re) || re.ErrorCode != 42201 {
		t.Errorf("a reference to a missing version: %v, want 42201", err)
	}
}

func TestCheckCompatibilityOtherTypes(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	proto := sr.Schema{Schema: `syntax = "proto3"; message M { string a = 1; }`, Type: sr.TypeProtobuf}
	next := sr.Schema{Schema: `syntax = "proto3"; message M { int64 a = 1; }`, Type: sr.TypeProtobuf}
	s.MustRegister(t, "p-value", proto)
	if got, err := cl.CheckCompatibility(ctx, "p-value", -1, next); err != nil || !got.Is {
		t.Errorf("protobuf by default: %+v, %v; want compatible", got, err)
	}
	s.SetIncompatible("p-value", true)
	got, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), "p-value", 1, next)
	if err != nil || got.Is || len(got.Messages) == 0 {
		t.Errorf("forced: %+v, %v; want incompatible with a message", got, err)
	}
	s.SetCompatibility("p-value", "NONE")
	if got, err := cl.CheckCompatibility(ctx, "p-value", -1, next); err != nil || !got.Is {
		t.Errorf("forced but NONE: %+v, %v; want compatible", got, err)
	}
	s.SetCompatibility("p-value", "")
	s.SetIncompatible("p-value", false)
	if got, err := cl.CheckCompatibility(ctx, "p-value", -1, next); err != nil || !got.Is {
		t.Errorf("no longer forced: %+v, %v; want compatible", got, err)
	}
	if got, err := cl.CheckCompatibility(ctx, "p-value", -1, sr.Schema{Schema: `{"type":"string"}`}); err != nil || got.Is {
		t.Errorf("avro against protobuf: %+v, %v; want incompatible", got, err)
	}
	s.MustRegister(t, "a-value", sr.Schema{Schema: `{"type":"string"}`})
	if got, err := cl.CheckCompatibility(ctx, "a-value", -1, next); err != nil || got.Is {
		t.Errorf("protobuf against avro: %+v, %v; want incompatible", got, err)
	}
}
