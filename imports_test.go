package meshwatch_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/meshwatch/meshwatch"

// leaves are the packages that import the root package and libraries but
// never each other (DESIGN.md "Layout and the direction of dependencies").
var leaves = []string{"collector", "quality", "lag", "sla", "alert", "cost"}

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

func TestLeavesDoNotImportEachOther(t *testing.T) {
	checked := 0
	for _, leaf := range leaves {
		if _, err := os.Stat(leaf); err != nil {
			continue // not written yet
		}
		checked++
		for file, deps := range imports(t, leaf) {
			for _, d := range deps {
				top := strings.Split(d, "/")[0]
				for _, other := range leaves {
					if top == other && other != leaf {
						t.Errorf("%s imports %s/%s: leaves exchange root-package types through interfaces wired in cmd/meshwatch", file, module, d)
					}
				}
				if top == "cmd" {
					t.Errorf("%s imports %s", file, d)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no leaf package found; is the test running in the module root?")
	}
}

func TestRootImportsNoSubpackage(t *testing.T) {
	for file, deps := range imports(t, ".") {
		if strings.HasSuffix(file, "_test.go") {
			continue // external tests may use helpers
		}
		for _, d := range deps {
			t.Errorf("%s imports %s/%s: the model package must not depend on the packages built on it", file, module, d)
		}
	}
}
