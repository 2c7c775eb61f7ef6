package meshwatch

import (
	"fmt"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestSecretString(t *testing.T) {
	tests := []struct {
		name   string
		secret Secret
		format string
		want   string
	}{
		{"v", "hunter2", "%v", "<secret>"},
		{"s", "hunter2", "%s", "<secret>"},
		{"+v", "hunter2", "%+v", "<secret>"},
		{"#v", "hunter2", "%#v", `"<secret>"`},
		{"q", "hunter2", "%q", `"<secret>"`},
		{"empty v", "", "%v", ""},
		{"empty #v", "", "%#v", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, tt.secret); got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
	if got := Secret("hunter2").Reveal(); got != "hunter2" {
		t.Errorf("Reveal() = %q, want hunter2", got)
	}
}

func TestSecretYAML(t *testing.T) {
	out, err := yaml.Marshal(struct {
		Password Secret `yaml:"password"`
	}{"hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "password: <secret>") {
		t.Errorf("Marshal shows the password or no placeholder:\n%s", out)
	}
}
