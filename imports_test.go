package meshwatch_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/meshwatch/meshwatch"

// layer is the place of a package in the direction of dependencies
// (DESIGN.md "Layout and the direction of dependencies").
type layer string

const (
	model     layer = "the model"      // the root package
	leaf      layer = "a leaf"         // monitors or acts on products
	contracts layer = "odcs"           // ODCS data contracts into products
	loader    layer = "config"         // reads the configuration file
	machinery layer = "internal"       // internal/...
	command   layer = "a command"      // cmd/...: wires everything
	harness   layer = "a test harness" // packages of tests only
)

// layers classifies every top-level directory that holds Go files. A new
// one fails TestLayers until it is classified here, so that where it sits
// is decided, not drifted into.
var layers = map[string]layer{
	".":          model,
	"collector":  leaf,
	"quality":    leaf,
	"lag":        leaf,
	"lineage":    leaf,
	"notice":     leaf,
	"policy":     leaf,
	"sla":        leaf,
	"alert":      leaf,
	"cost":       leaf,
	"dashboards": leaf,
	"odcs":       contracts,
	"config":     loader,
	"internal":   machinery,
	"cmd":        command,
	"deploy":     harness,
}

// allowed says which layers a package may import, besides its own
// top-level directory (a package's external tests import it; nothing
// imports a command). Tests may import more than production files: a
// leaf's tests load configurations with package config.
var allowed = map[layer]struct{ prod, test []layer }{
	model:     {prod: nil, test: []layer{leaf, contracts, loader, machinery, harness}},
	leaf:      {prod: []layer{model, machinery}, test: []layer{model, machinery, loader}},
	contracts: {prod: []layer{model, machinery}, test: []layer{model, machinery, loader}},
	loader:    {prod: []layer{model, machinery, contracts, leaf}, test: []layer{model, machinery, contracts, leaf}},
	machinery: {prod: []layer{model, machinery}, test: []layer{model, machinery}},
	command:   {prod: []layer{model, leaf, contracts, loader, machinery}, test: []layer{model, leaf, contracts, loader, machinery}},
	harness:   {prod: []layer{model, leaf, contracts, loader, machinery}, test: []layer{model, leaf, contracts, loader, machinery}},
}

// why explains a rule that a forbidden import breaks.
var why = map[layer]string{
	model:     "the model package must not depend on the packages built on it",
	leaf:      "leaves exchange root-package types through interfaces wired in cmd/meshwatch, and import only the root and internal packages",
	contracts: "package odcs translates contracts with the root and internal packages only; config calls it",
	loader:    "package config may use the model, odcs, leaves and internal packages, never a command",
	machinery: "internal packages are machinery under the model: no leaf, no config, no odcs, no command",
	command:   "nothing imports a command",
	harness:   "nothing imports a command",
}

// top returns the top-level directory of a module-relative path, "." for
// the root package.
func top(path string) string {
	if path == "" || path == "." {
		return "."
	}
	return strings.Split(filepath.ToSlash(path), "/")[0]
}

// checkImport says why the file of the package in dir may not import the
// module-relative package dep, or returns nil.
func checkImport(dir, file, dep string) error {
	from, ok := layers[top(dir)]
	if !ok {
		return fmt.Errorf("%s: the package in %s is not classified in layers", file, top(dir))
	}
	to, ok := layers[top(dep)]
	if !ok {
		return fmt.Errorf("%s imports %s/%s, which is not classified in layers", file, module, dep)
	}
	if top(dir) == top(dep) && to != command {
		return nil
	}
	rules := allowed[from].prod
	if strings.HasSuffix(file, "_test.go") {
		rules = allowed[from].test
	}
	if !slices.Contains(rules, to) {
		return fmt.Errorf("%s imports %s/%s (%s): %s", file, module, dep, to, why[from])
	}
	return nil
}

// imports returns the module-local imports of the Go files (tests included)
// in dir, by file.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				out[f] = append(out[f], strings.TrimPrefix(p, module+"/"))
			}
		}
	}
	return out
}

// packageDirs returns the directories of the module that hold Go files.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			if dir := filepath.Dir(path); len(dirs) == 0 || dirs[len(dirs)-1] != dir {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestLayers checks the imports of every package of the module, tests
// included, against layers and allowed.
func TestLayers(t *testing.T) {
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("the test must run in the module root: %v", err)
	}
	dirs := packageDirs(t)
	seen := map[string]bool{}
	for _, dir := range dirs {
		seen[top(dir)] = true
		if _, ok := layers[top(dir)]; !ok {
			t.Errorf("%s holds Go files but is not classified in layers: decide its layer", top(dir))
			continue
		}
		for file, deps := range imports(t, dir) {
			for _, d := range deps {
				if err := checkImport(dir, file, d); err != nil {
					t.Error(err)
				}
			}
		}
	}
	for _, must := range []string{".", "config", "odcs", "internal", "cmd", "quality"} {
		if !seen[must] {
			t.Errorf("found no package in %s; is the walk broken?", must)
		}
	}
}

// TestCheckImport checks that checkImport refuses what the layers forbid,
// so that TestLayers can fail.
func TestCheckImport(t *testing.T) {
	tests := []struct {
		dir, file, dep string
		ok             bool
	}{
		{".", "model.go", "internal/yamlconf", false},
		{".", "model.go", "config", false},
		{".", "imports_test.go", "config", true},
		{"quality", "quality/rules.go", ".", true},
		{"quality", "quality/rules.go", "internal/logonce", true},
		{"quality", "quality/rules.go", "sla", false},
		{"quality", "quality/rules.go", "config", false},
		{"quality", "quality/rules_test.go", "config", true},
		{"quality", "quality/rules_test.go", "sla", false},
		{"quality", "quality/rules_test.go", "cmd/meshwatch", false},
		{"lag", "lag/example_test.go", "lag", true},
		{"odcs", "odcs/contract.go", "internal/yamlconf", true},
		{"odcs", "odcs/contract.go", "config", false},
		{"odcs", "odcs/contract.go", "quality", false},
		{"odcs", "odcs/contract_test.go", "config", true},
		{"internal/yamlconf", "internal/yamlconf/decode.go", ".", true},
		{"internal/yamlconf", "internal/yamlconf/decode.go", "internal/logonce", true},
		{"internal/yamlconf", "internal/yamlconf/decode.go", "config", false},
		{"internal/demo", "internal/demo/catalog.go", "collector", false},
		{"internal/demo", "internal/demo/catalog.go", "odcs", false},
		{"internal/demo", "internal/demo/catalog_test.go", "cmd/meshwatch", false},
		{"config", "config/load.go", "odcs", true},
		{"config", "config/load.go", "cost", true},
		{"config", "config/load.go", "cmd/meshwatch", false},
		{"cmd/meshwatch", "cmd/meshwatch/main.go", "config", true},
		{"cmd/meshwatch", "cmd/meshwatch/main.go", "cmd/other", false},
		{"deploy", "deploy/deploy_test.go", "cmd/meshwatch", false},
		{"newpkg", "newpkg/x.go", ".", false},
		{"quality", "quality/rules.go", "newpkg", false},
	}
	for _, tt := range tests {
		err := checkImport(tt.dir, tt.file, tt.dep)
		if (err == nil) != tt.ok {
			t.Errorf("checkImport(%s, %s, %s) = %v, want allowed: %v", tt.dir, tt.file, tt.dep, err, tt.ok)
		}
	}
}
