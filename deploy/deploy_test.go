// Package deploy holds the Dockerfile and Kubernetes manifests; its tests
// check that the manifests say what deploy/README.md promises.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// manifest is one Kubernetes object, decoded loosely.
type manifest struct {
	file string
	doc  map[string]any
}

func (m manifest) kind() string { s, _ := m.doc["kind"].(string); return s }

func (m manifest) name() string { return str(get(m.doc, "metadata", "name")) }

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func load(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if doc == nil {
				continue
			}
			if str(doc["apiVersion"]) == "" || str(doc["kind"]) == "" {
				t.Errorf("%s: apiVersion and kind are required", f)
			}
			out = append(out, manifest{file: f, doc: doc})
		}
	}
	return out
}

func byKind(ms []manifest, kind, name string) (manifest, bool) {
	for _, m := range ms {
		if m.kind() == kind && m.name() == name {
			return m, true
		}
	}
	return manifest{}, false
}

// TestWorkloads checks each way of running the agent: probes on /healthz and
// /readyz, a non-root user, a read-only root filesystem, resource requests,
// the config from the ConfigMap and the secrets from the Secret.
func TestWorkloads(t *testing.T) {
	ms := load(t)
	workloads := []struct{ kind, name, container string }{
		{"Deployment", "meshwatch", "meshwatch"},
		{"DaemonSet", "meshwatch", "meshwatch"},
		{"Deployment", "checkout-service", "meshwatch"}, // the sidecar example
	}
	for _, w := range workloads {
		t.Run(w.kind+"/"+w.name, func(t *testing.T) {
			m, ok := byKind(ms, w.kind, w.name)
			if !ok {
				t.Fatalf("no %s %s", w.kind, w.name)
			}
			pod := get(m.doc, "spec", "template", "spec")
			if get(pod, "securityContext", "runAsNonRoot") != true {
				t.Error("pod securityContext.runAsNonRoot must be true")
			}
			var c any
			cs, _ := get(pod, "containers").([]any)
			for _, x := range cs {
				if str(get(x, "name")) == w.container {
					c = x
				}
			}
			if c == nil {
				t.Fatalf("no container %s", w.container)
			}
			if p := str(get(c, "livenessProbe", "httpGet", "path")); p != "/healthz" {
				t.Errorf("livenessProbe path = %q, want /healthz", p)
			}
			if p := str(get(c, "readinessProbe", "httpGet", "path")); p != "/readyz" {
				t.Errorf("readinessProbe path = %q, want /readyz", p)
			}
			if get(c, "securityContext", "readOnlyRootFilesystem") != true {
				t.Error("readOnlyRootFilesystem must be true")
			}
			if get(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Error("allowPrivilegeEscalation must be false")
			}
			if get(c, "resources", "requests", "cpu") == nil || get(c, "resources", "requests", "memory") == nil {
				t.Error("resources.requests cpu and memory are required")
			}
			if get(c, "resources", "limits", "memory") == nil {
				t.Error("resources.limits.memory is required")
			}
			args, _ := get(c, "args").([]any)
			if len(args) < 3 || args[0] != "run" || args[1] != "-config" || args[2] != "/etc/meshwatch/config.yaml" {
				t.Errorf("args = %v, want run -config /etc/meshwatch/config.yaml …", args)
			}
			if str(get(c, "envFrom", 0, "secretRef", "name")) != "meshwatch" {
				t.Error("secrets must come from the meshwatch Secret (envFrom.secretRef)")
			}
			mounted := false
			vols, _ := get(pod, "volumes").([]any)
			for _, vm := range get(c, "volumeMounts").([]any) {
				if str(get(vm, "mountPath")) != "/etc/meshwatch" {
					continue
				}
				for _, v := range vols {
					if get(v, "name") == get(vm, "name") && str(get(v, "configMap", "name")) == "meshwatch" {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Error("/etc/meshwatch must be the meshwatch ConfigMap")
			}
		})
	}
}

// TestConfigMapValidates loads the ConfigMap's config.yaml as the agent
// would, with the Secret's variables set, for both state backends.
func TestConfigMapValidates(t *testing.T) {
	ms := load(t)
	cm, ok := byKind(ms, "ConfigMap", "meshwatch")
	if !ok {
		t.Fatal("no ConfigMap meshwatch")
	}
	data := str(get(cm.doc, "data", "config.yaml"))
	secret, ok := byKind(ms, "Secret", "meshwatch")
	if !ok {
		t.Fatal("no Secret meshwatch")
	}
	for _, backend := range []string{"", "kafka"} {
		env := func(k string) (string, bool) {
			if k == "MESHWATCH_STATE_BACKEND" && backend != "" {
				return backend, true
			}
			v, ok := get(secret.doc, "stringData", k).(string)
			return v, ok
		}
		cfg, ps, err := meshwatch.Load("configmap.yaml", []byte(data), env)
		if err != nil {
			t.Fatalf("the ConfigMap's config does not load:\n%v", ps)
		}
		want := backend
		if want == "" {
			want = meshwatch.StateDir
		}
		if cfg.State.Backend != want {
			t.Errorf("state.backend = %q, want %q", cfg.State.Backend, want)
		}
		if !strings.HasSuffix(cfg.HTTP.Listen, ":9477") {
			t.Errorf("http.listen = %q; the probes and the Service use 9477", cfg.HTTP.Listen)
		}
	}
	ds, _ := byKind(ms, "DaemonSet", "meshwatch")
	env, _ := get(ds.doc, "spec", "template", "spec", "containers", 0, "env").([]any)
	if !slices.ContainsFunc(env, func(e any) bool {
		return get(e, "name") == "MESHWATCH_STATE_BACKEND" && get(e, "value") == "kafka"
	}) {
		t.Error("the DaemonSet must keep state in Kafka (MESHWATCH_STATE_BACKEND=kafka): its pods have no volume")
	}
}

// TestServiceAndMonitor checks that Prometheus can find the agent.
func TestServiceAndMonitor(t *testing.T) {
	ms := load(t)
	svc, ok := byKind(ms, "Service", "meshwatch")
	if !ok {
		t.Fatal("no Service meshwatch")
	}
	if str(get(svc.doc, "spec", "ports", 0, "name")) != "http" || get(svc.doc, "spec", "ports", 0, "port") != 9477 {
		t.Errorf("Service port = %v, want http 9477", get(svc.doc, "spec", "ports", 0))
	}
	sm, ok := byKind(ms, "ServiceMonitor", "meshwatch")
	if !ok {
		t.Fatal("no ServiceMonitor meshwatch")
	}
	if str(get(sm.doc, "spec", "endpoints", 0, "port")) != "http" || str(get(sm.doc, "spec", "endpoints", 0, "path")) != "/metrics" {
		t.Errorf("ServiceMonitor endpoint = %v, want port http path /metrics", get(sm.doc, "spec", "endpoints", 0))
	}
	sel := get(svc.doc, "spec", "selector", "app.kubernetes.io/name")
	if get(sm.doc, "spec", "selector", "matchLabels", "app.kubernetes.io/name") != sel {
		t.Error("the ServiceMonitor does not select the Service")
	}
}

// TestKustomization checks that kustomization.yaml lists existing files, and
// builds it when kustomize (or kubectl) is installed; neither is needed
// offline.
func TestKustomization(t *testing.T) {
	data, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}
	if bin, err := exec.LookPath("kustomize"); err == nil {
		if out, err := exec.Command(bin, "build", "kubernetes").CombinedOutput(); err != nil {
			t.Errorf("kustomize build: %v\n%s", err, out)
		}
	}
}

// TestDockerfile checks the image promises: static, non-root, the agent as
// entrypoint.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532", "FROM gcr.io/distroless/static", "AS build", `ENTRYPOINT ["/usr/local/bin/meshwatch"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
