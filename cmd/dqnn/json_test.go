package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
)

// row is a per-layer row of any command's JSON.
type row struct {
	CID     int      `json:"c_id"`
	Name    string   `json:"name"`  // analyze
	Layer   string   `json:"layer"` // bench, validate
	Tensor  string   `json:"tensor"`
	Outputs []string `json:"outputs"`
}

type jsonReport struct {
	Schema string `json:"schema"`
	Model  string `json:"model"`
	Layers []row  `json:"layers"`
}

func runJSON(t *testing.T, args ...string) jsonReport {
	t.Helper()
	rc, out, errs := runCLI(args...)
	if rc != 0 {
		t.Fatalf("dqnn %v: exit %d\n%s", args, rc, errs)
	}
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dqnn %v: %v\n%s", args, err, out)
	}
	return r
}

// TestJSONSchema: every command's --json names its schema and the model the
// same way, and bench and validate --per-layer number and name their rows as
// analyze does (the C-layer writing each tensor).
func TestJSONSchema(t *testing.T) {
	if _, err := os.Stat(validateExample); err != nil {
		t.Fatal(err) // in the repository
	}
	an := runJSON(t, "analyze", validateExample, "--json")
	layerOf := map[string]row{}
	for _, l := range an.Layers {
		for _, o := range l.Outputs {
			layerOf[o] = l
		}
	}
	if len(layerOf) == 0 {
		t.Fatal("analyze --json names no layer outputs")
	}
	reports := map[string]jsonReport{"analyze": an, "inspect": runJSON(t, "inspect", validateExample, "--json")}
	testenv.Need(t, "a runner for host", target.Available(target.Host))
	reports["validate"] = runJSON(t, "validate", validateExample, "--samples", "1", "--per-layer", "--json")
	if target.Available(target.CortexM4) == nil || testenv.InCI() {
		reports["bench"] = runJSON(t, "bench", validateExample, "--target", "cortex-m4", "--json")
	}
	for cmd, r := range reports {
		if want := "dqnn." + cmd + "/1"; r.Schema != want {
			t.Errorf("%s: schema %q, want %q", cmd, r.Schema, want)
		}
		if r.Model != "mnist_bnn.h5" {
			t.Errorf("%s: model %q, want the file name mnist_bnn.h5", cmd, r.Model)
		}
		if cmd == "analyze" || cmd == "inspect" {
			continue
		}
		if len(r.Layers) == 0 {
			t.Errorf("%s: no layers", cmd)
		}
		seen := map[string]bool{}
		for _, l := range r.Layers {
			a, ok := layerOf[l.Tensor]
			if !ok {
				continue // a view (alias) of another layer's tensor
			}
			seen[l.Tensor] = true
			if l.CID != a.CID || l.Layer != a.Name {
				t.Errorf("%s: tensor %s in row (c_id %d, %q), analyze has (c_id %d, %q)", cmd, l.Tensor, l.CID, l.Layer, a.CID, a.Name)
			}
		}
		if len(seen) != len(layerOf) {
			t.Errorf("%s: rows for %d of the %d tensors analyze's layers write", cmd, len(seen), len(layerOf))
		}
	}
}

// TestInspectJSONTensors: inspect --json gives inputs and outputs as
// objects with name, shape and type (they were strings such as
// "quant_conv2d_input [28 28 1] f32").
func TestInspectJSONTensors(t *testing.T) {
	type tensor struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		DType string `json:"dtype"`
	}
	var r struct {
		Inputs, Outputs []tensor
	}
	rc, out, errs := runCLI("inspect", exampleH5, "--json")
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errs)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, _ := json.Marshal(r)
	if want := `{"Inputs":[{"name":"quant_conv2d_input","shape":[28,28,1],"dtype":"f32"}],"Outputs":[{"name":"activation","shape":[10],"dtype":"f32"}]}`; string(got) != want {
		t.Errorf("inspect --json tensors:\n got %s\nwant %s", got, want)
	}
}
