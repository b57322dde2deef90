// Package depcheck holds the test that keeps dqnn's imports flowing one way,
// the way Go's own go/build/deps_test.go does: importer → IR ← passes, the
// generator sees only the matrix, and the reference interpreter shares no code
// with the C templates it is the oracle for.
package depcheck

import (
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

const module = "github.com/dqnn/dqnn"

// forbidden lists, per package (or package prefix ending in "/"), the dqnn
// packages it must not import, directly or indirectly.
var forbidden = map[string][]string{
	// Leaves: the IR and the low-level readers/runners know nothing of the rest.
	"ir/dtype":        {"*"},
	"ir":              {"*except ir/dtype"},
	"internal/hdf5":   {"*except internal/safeio"},
	"internal/safeio": {"*"},
	"internal/tfckpt": {"*except internal/safeio"},
	"target":          {"*"},
	"gen/cparams":     {"*"}, // the C parameter structs: imported by the generator and emit alike
	// The oracle must not share code with what it checks.
	"interp": {"gen/", "templates", "kernels_c", "emit", "passes", "compiler"},
	"quant":  {"gen/", "templates", "kernels_c", "emit", "passes", "compiler", "keras", "interp"},
	// The Go reference states the semantics independently of the templates.
	"gen/ref": {"templates", "kernels_c", "gen/matrix/render"},
	// Importer and passes sit below the drivers.
	"keras": {"compiler", "emit", "passes", "validate", "bench", "gen/", "interp"},
	// The compiler reads what quantizers compute (ir.QuantForm), never how a
	// format spells them: Keras classes and arguments stay in the importer
	// (keras, quant), so a new input format or quantizer leaves these alone.
	"passes":   {"compiler", "validate", "bench", "keras", "quant", "interp", "emit"},
	"emit":     {"compiler", "validate", "bench", "keras", "quant", "interp", "gen/kernelgen", "gen/matrix"}, // kernels_c names what emit copies
	"compiler": {"validate", "bench", "keras", "quant", "interp"},
	// validate runs the oracle (interp evaluates each quantizer through its
	// importer's record) on a graph its caller loaded; a board is one kind of
	// validate.Device: validate knows the interface only.
	"validate": {"board", "keras", "quant"},
}

func TestImportGraph(t *testing.T) {
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps, Dir: "../.."}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 3 {
		t.Fatalf("loaded only %d packages; is the test running inside the module?", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.PkgPath, module), "/")
		if strings.HasPrefix(rel, "cmd/") {
			continue
		}
		for _, dep := range dqnnDeps(p) {
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing below cmd/ may import a command", rel, dep)
			}
			for key, rules := range forbidden {
				if !(rel == key || strings.HasSuffix(key, "/") && strings.HasPrefix(rel, key)) {
					continue
				}
				for _, r := range rules {
					if violates(dep, r) {
						t.Errorf("%s imports %s (forbidden by rule %q)", rel, dep, r)
					}
				}
			}
		}
	}
}

// dqnnDeps returns the module-relative paths of every dqnn package p imports,
// directly or indirectly.
func dqnnDeps(p *packages.Package) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(*packages.Package)
	walk = func(q *packages.Package) {
		for path, imp := range q.Imports {
			if seen[path] || !strings.HasPrefix(path, module+"/") {
				continue
			}
			seen[path] = true
			out = append(out, strings.TrimPrefix(path, module+"/"))
			walk(imp)
		}
	}
	walk(p)
	return out
}

func violates(dep, rule string) bool {
	switch {
	case rule == "*":
		return dep != "internal/deps"
	case strings.HasPrefix(rule, "*except "):
		return dep != strings.TrimPrefix(rule, "*except ")
	case strings.HasSuffix(rule, "/"):
		return strings.HasPrefix(dep, rule)
	}
	return dep == rule
}
