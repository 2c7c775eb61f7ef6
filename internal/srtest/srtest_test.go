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
