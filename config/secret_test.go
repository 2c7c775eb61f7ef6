package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestLoadHidesSecrets loads configs whose problems are near the secrets
// and checks that the secrets never show.
func TestLoadHidesSecrets(t *testing.T) {
	const password, token = "pa55-w0rd-value", "t0ken-value"
	env := mapEnv(map[string]string{"KAFKA_PASSWORD": password, "ANY": password, "API_TOKEN": token})
	tests := []struct {
		name   string
		config string
	}{
		{"env in a number", "cluster: {brokers: [k:1]}\nproducts: [{name: d.e.f, domain: d, owner: o, tier: \"${KAFKA_PASSWORD}\"}]"},
		{"env in a broker", "cluster: {brokers: [\"${KAFKA_PASSWORD}\"]}"},
		{"secret env in a name", "products: [{name: \"${API_TOKEN}\", domain: d}]\nnaming: strict"},
		{"plain env used as a password and as a name", "cluster: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password: \"${ANY}\"}}\nproducts: [{name: \"${ANY}\", domain: d}]\nnaming: strict"},
		{"inline password repeated elsewhere", "cluster: {brokers: [k:1], sasl: {mechanism: SCRAM, password: " + password + "}}\nhttp: {listen: " + password + "}"},
		{"password of the wrong type", "cluster: {sasl: {password: [" + password + "]}}"},
		{"password in an unknown key", "cluster: {sasl: {passwd: " + password + ", password: " + password + "}}"},
		{"percent", "products: [{slos: [{objective: \"${KAFKA_PASSWORD}\"}]}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Load("c.yaml", []byte(tt.config), env)
			if err == nil {
				t.Fatal("Load succeeded, want problems")
			}
			for _, s := range []string{err.Error(), fmt.Sprint(ps), fmt.Sprintf("%+v", ps), fmt.Sprintf("%#v", ps)} {
				if strings.Contains(s, password) || strings.Contains(s, token) {
					t.Errorf("problems show a secret:\n%s", s)
				}
			}
		})
	}
}
