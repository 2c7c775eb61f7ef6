package yamlconf

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
)

type section struct {
	Every meshwatch.Duration `yaml:"every"`
	Name  string             `yaml:"name"`
	Token meshwatch.Secret   `yaml:"token"`
	Tags  map[string]string  `yaml:"tags"`
	Skip  string             `yaml:"-"`
}

func decode(t *testing.T, doc string, env map[string]string) (*Decoder, section) {
	t.Helper()
	root, p := Parse("s.yaml", []byte(doc))
	if p != nil {
		t.Fatalf("Parse: %v", p)
	}
	d := NewDecoder("s.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	var s section
	d.Decode(root, reflect.ValueOf(&s).Elem(), "")
	return d, s
}

func TestDecode(t *testing.T) {
	d, s := decode(t, "every: 1d2h\nname: ${NAME:-x}\ntoken: ${T}\ntags: {b: \"2\", a: \"1\"}\n", map[string]string{"T": "tok"})
	want := section{Every: meshwatch.Duration(26 * 3600e9), Name: "x", Token: "tok", Tags: map[string]string{"a": "1", "b": "2"}}
	if diff := cmp.Diff(want, s); diff != "" || len(d.Problems) != 0 {
		t.Fatalf("Decode (-want +got):\n%s\nproblems: %v", diff, d.Problems)
	}
	if got := d.Position("tags.a").String(); got != "s.yaml:4:19" {
		t.Errorf("Position(tags.a) = %s", got)
	}
	if got := d.Position("tags.c").String(); got != "s.yaml:4:7" {
		t.Errorf("Position(tags.c) = %s, want the position of tags", got)
	}
	if !strings.Contains(strings.Join(d.Secrets, " "), "tok") {
		t.Errorf("Secrets %q lack the value substituted into a Secret", d.Secrets)
	}
}

func TestDecodeProblems(t *testing.T) {
	d, _ := decode(t, "every: soon\nnme: x\nname: [a]\nskip: y\n", nil)
	want := []string{
		`s.yaml:1:8: every: must be a duration like 10s, 1m30s or 28d, got "soon"`,
		`s.yaml:2:1: nme: unknown key "nme" (did you mean "name"?); allowed: every, name, token, tags`,
		`s.yaml:3:7: name: must be a string, got a list`,
		`s.yaml:4:1: skip: unknown key "skip"; allowed: every, name, token, tags`,
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !d.Repeats("every") || !d.Repeats("name") || d.Repeats("tags") {
		t.Errorf("Failed = %v", d.Failed)
	}
}

func TestParseSyntax(t *testing.T) {
	for doc, want := range map[string]string{
		"a: [1\n":           `s.yaml:2: invalid YAML: did not find expected ',' or ']' (a [ list is not closed with ])`,
		"a: 1\n---\nb: 2\n": `s.yaml:2:1: invalid YAML: a second document; the config must be a single document (remove the "---" line)`,
	} {
		_, p := Parse("s.yaml", []byte(doc))
		if p == nil || p.String() != want {
			t.Errorf("Parse(%q) = %v, want %s", doc, p, want)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := section{Every: meshwatch.Duration(90e9), Name: "costs ${X}", Tags: map[string]string{"k": "v"}, Skip: "not written"}
	out, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "every: 1m30s\nname: costs $${X}\ntags:\n  k: v\n"; string(out) != want {
		t.Errorf("Marshal:\n%s\nwant:\n%s", out, want)
	}
	d, back := decode(t, string(out), nil)
	in.Skip = ""
	if diff := cmp.Diff(in, back); diff != "" || len(d.Problems) != 0 {
		t.Errorf("round trip (-want +got):\n%s\n%v", diff, d.Problems)
	}
}

func TestReadFileRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(dir, 1<<10, "hint")
	if err == nil || !strings.HasSuffix(err.Error(), "it is a directory, not a regular file") {
		t.Errorf("ReadFile(dir) = %v", err)
	}
}

// TestSecretSectionGivenAScalar: a token or a webhook URL written in place
// of the section that holds it is not echoed; other scalars still are.
func TestSecretSectionGivenAScalar(t *testing.T) {
	type wrapper struct {
		Webhook *struct {
			URL meshwatch.Secret `yaml:"url"`
		} `yaml:"webhook"`
		Slack   []section         `yaml:"slack"`
		Owners  map[string]string `yaml:"owners"`
		Cluster struct {
			Name string `yaml:"name"`
		} `yaml:"cluster"`
	}
	const secret = "https://hooks.example.com/services/T0/B0/s3cr3t-xyz"
	doc := "webhook: " + secret + "\nslack: xoxb-s3cr3t-xyz\nowners: plain-value\ncluster: prod-eu\n"
	root, p := Parse("w.yaml", []byte(doc))
	if p != nil {
		t.Fatal(p)
	}
	d := NewDecoder("w.yaml", nil)
	var w wrapper
	d.Decode(root, reflect.ValueOf(&w).Elem(), "")
	var msgs []string
	for _, p := range d.Problems {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	if strings.Contains(all, "s3cr3t") {
		t.Errorf("a secret is echoed:\n%s", all)
	}
	for _, want := range []string{
		"w.yaml:1:10: webhook: must be a mapping with the keys url; got a value (not shown: the setting holds secrets)",
		"w.yaml:2:8: slack: must be a list, got a value (not shown: the setting holds secrets)",
		`w.yaml:3:9: owners: must be a mapping, got "plain-value"`,
		`w.yaml:4:10: cluster: must be a mapping with the keys name; got "prod-eu"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems:\n%s\nwant the line %s", all, want)
		}
	}
}

// TestLargeDocumentIsNoBomb: a document large by itself (a mesh of
// 10,000 products) decodes; only aliases that expand it past
// aliasGrowth times its own size are refused (config's
// TestLoadAliasBomb keeps that refusal).
func TestLargeDocumentIsNoBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("items:\n")
	for range maxNodes + 1000 {
		b.WriteString("- x\n")
	}
	root, p := Parse("big.yaml", []byte(b.String()))
	if p != nil {
		t.Fatal(p)
	}
	var big struct {
		Items []string `yaml:"items"`
	}
	d := NewDecoder("big.yaml", nil)
	d.Decode(root, reflect.ValueOf(&big).Elem(), "")
	if d.TooLarge || len(d.Problems) != 0 || len(big.Items) != maxNodes+1000 {
		t.Fatalf("a large document: too large %v, %d items, problems %v", d.TooLarge, len(big.Items), d.Problems)
	}

}
