package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
)

func inspect(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"inspect"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestInspectFixtures runs `dqnn inspect` (text and --json) on every model of
// the fixture manifest: good models print their graph, broken ones fail
// with the manifest's error substring.
func TestInspectFixtures(t *testing.T) {
	data, err := os.ReadFile("../../testdata/models/MANIFEST.json")
	if err != nil {
		t.Fatalf("the model fixtures are part of the repository: %v", err)
	}
	var m struct {
		Fixtures []struct {
			Name, Model string
			Weights     *string
			Error       *string
		}
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, fx := range m.Fixtures {
		t.Run(fx.Name, func(t *testing.T) {
			args := []string{filepath.Join("../..", fx.Model)}
			if fx.Weights != nil {
				args = append(args, "--weights", filepath.Join("../..", *fx.Weights))
			}
			code, out, errs := inspect(t, args...)
			if fx.Error != nil {
				if code != 1 || !strings.Contains(strings.ToLower(errs), strings.ToLower(*fx.Error)) {
					t.Fatalf("exit %d, stderr %q; want exit 1 and an error containing %q", code, errs, *fx.Error)
				}
				return
			}
			if code != 0 || !strings.Contains(out, "model ") || !strings.Contains(out, "parameters") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			code, out, errs = inspect(t, append(args, "--json")...)
			var g inspectGraph
			if code != 0 || json.Unmarshal([]byte(out), &g) != nil || len(g.Nodes) == 0 {
				t.Fatalf("--json: exit %d, stderr %q, output %.200q", code, errs, out)
			}
		})
	}
}

// TestInspectSharedModels runs `dqnn inspect` on the real model files under
// the shared models folder (internal/sharedmodels): every in-scope file imports (zoo JSONs
// architecture-only), out-of-scope ones fail with a message that says why.
func TestInspectSharedModels(t *testing.T) {
	dir := sharedmodels.Require(t)
	ok, _ := filepath.Glob(filepath.Join(dir, "zoo-pr66/*/*.json"))
	ok = append(ok, filepath.Join(dir, "qkeras/example-models/qkeras_3layer.json"),
		filepath.Join(dir, "qkeras/example-models/qkeras_mnist_cnn.json"),
		filepath.Join(dir, "qkeras/example-models/qkeras_mnist_dense.json"),
		filepath.Join(dir, "qkeras/example-models/qkeras-v3_3layer.keras"),
		filepath.Join(dir, "larq/ee4690/savedmodel_8c480ab"), filepath.Join(dir, "larq/ee4690/savedmodel_e1b41a8"))
	for _, p := range ok {
		t.Run(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), func(t *testing.T) {
			code, out, errs := inspect(t, p)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if strings.Contains(p, "zoo-pr66") && !strings.Contains(out, "architecture only") {
				t.Errorf("zoo JSON without weights must say it is architecture only")
			}
		})
	}
	refused := map[string][]string{}
	for _, f := range []string{"qkeras/mlperf-tiny-v0.7/AD08_model.h5", "qkeras/mlperf-tiny-v0.7/RN07_model_best.h5"} {
		refused[f] = nil // QDenseBatchnorm / QConv2DBatchnorm (folded at import)
	}
	for rel, want := range refused {
		t.Run(rel, func(t *testing.T) {
			code, out, errs := inspect(t, filepath.Join(dir, rel))
			if want == nil {
				if code != 0 || !strings.Contains(out, "parameters") {
					t.Fatalf("exit %d: %s\n%s", code, errs, out)
				}
				return
			}
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %s", code, out)
			}
			for _, w := range want {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q does not contain %q", errs, w)
				}
			}
		})
	}
}

func TestInspectUsage(t *testing.T) {
	if code, _, errs := inspect(t); code != 2 || !strings.Contains(errs, "usage: dqnn inspect") {
		t.Errorf("no model: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := inspect(t, "/nonexistent/model.h5"); code != 1 || !strings.Contains(errs, "/nonexistent/model.h5") {
		t.Errorf("missing file: exit %d, stderr %q", code, errs)
	}
}

// TestInspectColumnsAligned checks that the text table's columns line up
// whatever the name lengths: every node row starts its class, op and
// shape columns at the same offsets (Larq's "<layer>/input_quantizer"
// names are longer than any fixed width).
func TestInspectColumnsAligned(t *testing.T) {
	code, out, errs := inspect(t, "../../testdata/models/lq_conv.h5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []string
	long := false
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " -> ") {
			rows = append(rows, l)
			long = long || strings.Contains(l, "/input_quantizer")
		}
	}
	if len(rows) < 2 || !long {
		t.Fatalf("want several node rows with an input_quantizer node, got:\n%s", out)
	}
	// The class column starts after the name column's padding: find, per
	// row, the start of the 2nd, 3rd and 4th whitespace-separated fields.
	starts := func(l string) []int {
		var s []int
		in := false
		for i, r := range l {
			if r != ' ' && !in {
				s = append(s, i)
			}
			in = r != ' '
		}
		return s
	}
	want := starts(rows[0])
	for _, r := range rows[1:] {
		got := starts(r)
		for f := 1; f <= 3; f++ {
			if got[f] != want[f] {
				t.Fatalf("column %d starts at %d in\n%s\nbut at %d in\n%s", f, got[f], r, want[f], rows[0])
			}
		}
	}
}
