// Package deploy holds the Dockerfile and Kubernetes manifests; its tests
// check that the manifests say what deploy/README.md promises.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/state"
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

// workloads are the ways of running the agent: the fleet's DaemonSet and
// Deployment share the meshwatch ConfigMap; the sidecar has its own.
var workloads = []struct{ kind, name, container, configMap string }{
	{"Deployment", "meshwatch", "meshwatch", "meshwatch"},
	{"DaemonSet", "meshwatch", "meshwatch", "meshwatch"},
	{"Deployment", "checkout-service", "meshwatch", "checkout-service-meshwatch"}, // the sidecar example
}

// container returns the pod spec of a workload and its container of that name.
func container(t *testing.T, ms []manifest, kind, name, container string) (pod, c any) {
	t.Helper()
	m, ok := byKind(ms, kind, name)
	if !ok {
		t.Fatalf("no %s %s", kind, name)
	}
	pod = get(m.doc, "spec", "template", "spec")
	cs, _ := get(pod, "containers").([]any)
	for _, x := range cs {
		if str(get(x, "name")) == container {
			return pod, x
		}
	}
	t.Fatalf("%s %s: no container %s", kind, name, container)
	return nil, nil
}

// TestWorkloads checks each way of running the agent: probes on /healthz and
// /readyz, a non-root user, a read-only root filesystem, resource requests,
// the config from its ConfigMap and the secrets from the Secret.
func TestWorkloads(t *testing.T) {
	ms := load(t)
	for _, w := range workloads {
		t.Run(w.kind+"/"+w.name, func(t *testing.T) {
			pod, c := container(t, ms, w.kind, w.name, w.container)
			if get(pod, "securityContext", "runAsNonRoot") != true {
				t.Error("pod securityContext.runAsNonRoot must be true")
			}
			if p := str(get(c, "livenessProbe", "httpGet", "path")); p != "/healthz" {
				t.Errorf("livenessProbe path = %q, want /healthz", p)
			}
			if p := str(get(c, "readinessProbe", "httpGet", "path")); p != "/readyz" {
				t.Errorf("readinessProbe path = %q, want /readyz", p)
			}
			// /readyz fails for causes a restart does not fix (a blind
			// product, an unwritable state dir): a probe that restarts
			// the container on it would make a crash loop.
			if p := str(get(c, "startupProbe", "httpGet", "path")); p == "/readyz" {
				t.Error("startupProbe on /readyz restarts an agent that is up but not ready: a crash loop")
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
					if get(v, "name") == get(vm, "name") && str(get(v, "configMap", "name")) == w.configMap {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Errorf("/etc/meshwatch must be the %s ConfigMap", w.configMap)
			}
		})
	}
}

// podName and nodeName are what the tests give a pod's metadata.name and
// spec.nodeName.
const (
	podName  = "meshwatch-x7k2p"
	nodeName = "node-eu-1a-7"
)

// agents reports whether a workload may run more than one agent on its
// config: a DaemonSet (one per node), or more than one replica.
func agents(m manifest) bool {
	if m.kind() == "DaemonSet" {
		return true
	}
	n, ok := get(m.doc, "spec", "replicas").(int)
	return !ok || n > 1 // replicas defaults to 1, but an HPA may change it
}

// podEnv is the environment a workload's container gets: its env entries
// (metadata.name as podName, spec.nodeName as nodeName) over the Secret's
// keys (envFrom).
func podEnv(t *testing.T, ms []manifest, c any) func(string) (string, bool) {
	t.Helper()
	vars := map[string]string{}
	if name := str(get(c, "envFrom", 0, "secretRef", "name")); name != "" {
		secret, ok := byKind(ms, "Secret", name)
		if !ok {
			t.Fatalf("no Secret %s", name)
		}
		data, _ := get(secret.doc, "stringData").(map[string]any)
		for k, v := range data {
			vars[k] = str(v)
		}
	}
	env, _ := get(c, "env").([]any)
	for _, e := range env {
		switch path := str(get(e, "valueFrom", "fieldRef", "fieldPath")); {
		case path == "metadata.name":
			vars[str(get(e, "name"))] = podName
		case path == "spec.nodeName":
			vars[str(get(e, "name"))] = nodeName
		case path != "":
			vars[str(get(e, "name"))] = "from-" + path
		default:
			vars[str(get(e, "name"))] = fmt.Sprint(get(e, "value"))
		}
	}
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// TestConfigs loads each workload's config.yaml as its agent would, with the
// workload's environment (so every variable the config needs must be set),
// and checks that what may run several agents shares the products out:
// sharding and state in Kafka; a DaemonSet's agents are static members named
// after their node, a Deployment's are dynamic (they leave the group when
// they stop, so a rollout hands their products over at once).
func TestConfigs(t *testing.T) {
	ms := load(t)
	stateTopics := map[string]string{} // state topic of each sharded config
	var solo []string                  // kafka state topics of configs without sharding
	for _, w := range workloads {
		t.Run(w.kind+"/"+w.name, func(t *testing.T) {
			m, _ := byKind(ms, w.kind, w.name)
			pod, c := container(t, ms, w.kind, w.name, w.container)
			cm, ok := byKind(ms, "ConfigMap", w.configMap)
			if !ok {
				t.Fatalf("no ConfigMap %s", w.configMap)
			}
			data := str(get(cm.doc, "data", "config.yaml"))
			cfg, ps, err := config.Load(w.configMap+".yaml", []byte(data), podEnv(t, ms, c))
			if err != nil {
				t.Fatalf("the %s ConfigMap's config does not load in %s %s:\n%v", w.configMap, w.kind, w.name, ps)
			}
			if len(ps) > 0 {
				t.Errorf("the %s ConfigMap's config has warnings:\n%v", w.configMap, ps)
			}
			port := fmt.Sprint(get(c, "ports", 0, "containerPort"))
			if !strings.HasSuffix(cfg.HTTP.Listen, ":"+port) {
				t.Errorf("http.listen = %q; the container port and the probes use %s", cfg.HTTP.Listen, port)
			}
			if cfg.State.Backend == state.BackendDir {
				// The root filesystem is read-only: the directory must be a volume.
				writable := false
				mounts, _ := get(c, "volumeMounts").([]any)
				for _, vm := range mounts {
					if str(get(vm, "mountPath")) == cfg.State.Dir && get(vm, "readOnly") != true {
						writable = true
					}
				}
				if !writable {
					t.Errorf("state.dir %s is not a writable volume of the container", cfg.State.Dir)
				}
			}
			if !agents(m) {
				if cfg.Sharding == nil && cfg.State.Backend == state.BackendKafka {
					solo = append(solo, cfg.State.Topic)
				}
				return
			}
			// Without sharding, every agent would monitor every product and
			// alert once per agent.
			if cfg.Sharding == nil {
				t.Fatal("runs several agents on one config, so the config needs sharding:")
			}
			if cfg.State.Backend != state.BackendKafka {
				t.Errorf("state.backend = %q; sharding needs kafka", cfg.State.Backend)
			}
			stateTopics[w.configMap] = cfg.State.Topic
			env, _ := get(c, "env").([]any)
			if m.kind() == "DaemonSet" {
				if cfg.Sharding.InstanceID != nodeName {
					t.Errorf("sharding.instance_id = %q, want the node's name: unique per agent of a DaemonSet, and kept across rollouts", cfg.Sharding.InstanceID)
				}
				if !slices.ContainsFunc(env, func(e any) bool {
					return str(get(e, "name")) == "MESHWATCH_INSTANCE_ID" && str(get(e, "valueFrom", "fieldRef", "fieldPath")) == "spec.nodeName"
				}) {
					t.Error("MESHWATCH_INSTANCE_ID must come from the pod's spec.nodeName (sharding.instance_id)")
				}
			} else if cfg.Sharding.InstanceID != "" {
				// A Deployment's pod names change on every rollout: a static
				// member would hold its products until its session timed out.
				t.Errorf("sharding.instance_id = %q in a Deployment, want none: a rollout should hand products over at once", cfg.Sharding.InstanceID)
			}
			if vols, _ := get(pod, "volumes").([]any); len(vols) != 1 {
				t.Errorf("volumes = %v; with its state in Kafka the agent needs only its config", vols)
			}
		})
	}
	for _, topic := range solo {
		for cm, shared := range stateTopics {
			if topic == shared {
				t.Errorf("an agent without sharding keeps its state in %s, the state topic of the %s fleet: it would overwrite the fleet's alert state", topic, cm)
			}
		}
	}
	if len(stateTopics) == 0 {
		t.Error("no workload runs a sharded fleet")
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

// TestKustomization checks that kustomization.yaml lists existing files and
// never the example Secret (applying it would overwrite the real one), and
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
	if slices.Contains(k.Resources, "secret.yaml") {
		t.Error("kustomization lists secret.yaml: applying it would overwrite the real Secret with the example's values")
	}
	if !slices.Contains(k.Resources, "daemonset.yaml") {
		t.Error("kustomization must list daemonset.yaml: deploy/README.md walks through the DaemonSet")
	}
	var build *exec.Cmd
	if bin, err := exec.LookPath("kustomize"); err == nil {
		build = exec.Command(bin, "build", "kubernetes")
	} else if bin, err := exec.LookPath("kubectl"); err == nil {
		build = exec.Command(bin, "kustomize", "kubernetes")
	} else {
		return
	}
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	if !bytes.Contains(out, []byte("kind: DaemonSet")) || bytes.Contains(out, []byte("kind: Secret")) {
		t.Errorf("%s builds no DaemonSet, or a Secret:\n%s", build, out)
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

var (
	fenced     = regexp.MustCompile("(?ms)^```.*?^```")
	inlineCode = regexp.MustCompile("`([^`\n]+)`")
	envName    = regexp.MustCompile(`^\$?\{?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?::-[^}]*)?\}?$`)
	yamlFile   = regexp.MustCompile(`^[\w./-]+\.ya?ml$`)
	repoPath   = regexp.MustCompile(`^deploy/[\w./-]+$`)
	configPath = regexp.MustCompile(`^([a-z_]+)((?:\.[a-z_]+)*)(:(?:\s+(.+))?)?$`)
	quantity   = regexp.MustCompile(`^\d+(?:m|Mi|Gi)$`)
	metricName = regexp.MustCompile(`^(meshwatch_[a-z_]+)(?:\{.*\})?$`)
	imageRef   = regexp.MustCompile(`^[a-z0-9.-]+\.[a-z]{2,}/[\w./-]+:[\w.-]+$`)
)

// TestReadmeNamesExist checks that what deploy/README.md names in `code`
// outside its command blocks exists, so that a reader who follows it finds
// it: environment variables, files and ConfigMap keys, config keys and
// values (of the sections the ConfigMaps have), Kafka topics, images and
// paths in the manifests; resource quantities in a container's resources;
// metric names in the agent's code.
func TestReadmeNamesExist(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ms := load(t)
	var text strings.Builder
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range append(files, "Dockerfile") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	manifests := text.String()

	keys := map[string]bool{}       // ConfigMap data keys
	var configs []map[string]any    // the ConfigMaps' configs, undecoded
	quantities := map[string]bool{} // every container's requests and limits
	for _, m := range ms {
		if m.kind() == "ConfigMap" {
			data, _ := get(m.doc, "data").(map[string]any)
			for k, v := range data {
				keys[k] = true
				var c map[string]any
				if err := yaml.Unmarshal([]byte(str(v)), &c); err != nil {
					t.Fatalf("ConfigMap %s %s: %v", m.name(), k, err)
				}
				configs = append(configs, c)
			}
		}
		cs, _ := get(m.doc, "spec", "template", "spec", "containers").([]any)
		for _, c := range cs {
			for _, kind := range []string{"requests", "limits"} {
				r, _ := get(c, "resources", kind).(map[string]any)
				for _, q := range r {
					quantities[fmt.Sprint(q)] = true
				}
			}
		}
	}
	sections := map[string]bool{}
	for _, c := range configs {
		for k := range c {
			sections[k] = true
		}
	}
	// lookup reports whether some config has path, holding value when
	// value is not "".
	lookup := func(path []string, value string) bool {
		for _, c := range configs {
			var v any = c
			for _, p := range path {
				v = get(v, p)
			}
			if v != nil && (value == "" || fmt.Sprint(v) == value) {
				return true
			}
		}
		return false
	}
	var code strings.Builder
	if err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "dashboards" || strings.HasPrefix(d.Name(), ".") && p != "..") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			code.Write(b)
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	source := code.String()

	checked := 0
	for _, m := range inlineCode.FindAllStringSubmatch(fenced.ReplaceAllString(string(readme), ""), -1) {
		span := m[1]
		var problem string
		switch {
		case envName.MatchString(span):
			name := envName.FindStringSubmatch(span)[1]
			if !regexp.MustCompile(`\b` + name + `\b`).MatchString(manifests) {
				problem = "no manifest sets or uses the environment variable " + name
			}
		case yamlFile.MatchString(span):
			_, inDir := os.Stat(filepath.Join("kubernetes", filepath.Base(span)))
			_, inRepo := os.Stat(filepath.Join("..", span))
			if inDir != nil && inRepo != nil && !keys[span] {
				problem = "no such file in deploy/kubernetes or the repository, nor ConfigMap key"
			}
		case repoPath.MatchString(span):
			if _, err := os.Stat(filepath.Join("..", span)); err != nil {
				problem = err.Error()
			}
		case quantity.MatchString(span):
			if !quantities[span] {
				problem = "no container requests or limits this quantity"
			}
		case metricName.MatchString(span):
			name := metricName.FindStringSubmatch(span)[1]
			if !strings.Contains(source, `"`+name+`"`) {
				problem = "the agent exports no metric " + name
			}
		case strings.HasPrefix(span, "__meshwatch"), strings.HasPrefix(span, "/etc/"), strings.HasPrefix(span, "/var/"), imageRef.MatchString(span):
			if !strings.Contains(manifests, span) {
				problem = "not in the manifests"
			}
		case configPath.MatchString(span):
			p := configPath.FindStringSubmatch(span)
			if !sections[p[1]] || (p[2] == "" && p[3] == "") {
				continue // a section no ConfigMap has (alerting:, cost:), or a plain word
			}
			path := append([]string{p[1]}, strings.Split(strings.TrimPrefix(p[2], "."), ".")...)
			if p[2] == "" {
				path = path[:1]
			}
			if !lookup(path, strings.Trim(p[4], `"`)) {
				problem = "no ConfigMap's config has it"
			}
		default:
			continue
		}
		checked++
		if problem != "" {
			t.Errorf("README.md names `%s`: %s", span, problem)
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d names in README.md; has the check stopped matching?", checked)
	}
}
