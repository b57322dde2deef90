package interp_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
)

// repo is the repository root as seen from this package's directory.
const repo = ".."

type fixture struct {
	Name     string   `json:"name"`
	Model    string   `json:"model"`
	Weights  *string  `json:"weights"`
	Format   string   `json:"format"`
	Inputs   []string `json:"inputs"`
	Expected []string `json:"expected"`
	Exact    bool     `json:"exact"`
	Covers   []string `json:"covers"`
	Error    *string  `json:"error"`
}

func readNPY(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var data []float32
	if err := r.Read(&data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data, r.Header.Descr.Shape
}

// TestManifest imports every fixture of testdata/models/MANIFEST.json, runs
// it through the interpreter and compares with the oracle's outputs (exact
// fixtures bit for bit, others with rtol 1e-5, atol 1e-6); broken fixtures
// must fail with an error containing the manifest's substring.
func TestManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repo, "testdata/models/MANIFEST.json"))
	if err != nil {
		t.Fatalf("the model fixtures are part of the repository: %v", err)
	}
	var m struct {
		Fixtures []fixture `json:"fixtures"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Fixtures) == 0 {
		t.Fatal("MANIFEST.json lists no fixtures")
	}
	for _, fx := range m.Fixtures {
		t.Run(fx.Name, func(t *testing.T) { runFixture(t, fx) })
	}
}

func runFixture(t *testing.T, fx fixture) {
	opt := keras.Options{}
	if fx.Weights != nil {
		opt.Weights = filepath.Join(repo, *fx.Weights)
	}
	g, err := keras.Load(filepath.Join(repo, fx.Model), opt)
	if fx.Error != nil {
		if err == nil {
			t.Fatalf("imported a broken file; want an error containing %q", *fx.Error)
		}
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(*fx.Error)) {
			t.Fatalf("error %q does not contain %q", err, *fx.Error)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.Inputs) != len(g.Inputs) || len(fx.Expected) != len(g.Outputs) {
		t.Fatalf("graph has %d inputs/%d outputs, fixture %d/%d", len(g.Inputs), len(g.Outputs), len(fx.Inputs), len(fx.Expected))
	}
	var ins, wants [][]float32
	batch := -1
	for i, p := range fx.Inputs {
		d, shape := readNPY(t, filepath.Join(repo, p))
		if batch >= 0 && shape[0] != batch {
			t.Fatalf("inputs disagree on the batch size")
		}
		batch = shape[0]
		if n := ir.NumElements(g.Inputs[i].Shape); n*batch != len(d) {
			t.Fatalf("input %d: %d values for %d samples of shape %v", i, len(d), batch, g.Inputs[i].Shape)
		}
		ins = append(ins, d)
	}
	for i, p := range fx.Expected {
		d, _ := readNPY(t, filepath.Join(repo, p))
		if n := ir.NumElements(g.Outputs[i].Shape); n*batch != len(d) {
			t.Fatalf("expected %d: %d values for %d samples of shape %v", i, len(d), batch, g.Outputs[i].Shape)
		}
		wants = append(wants, d)
	}
	bad := 0
	for b := 0; b < batch; b++ {
		sample := make([][]float32, len(ins))
		for i, d := range ins {
			n := ir.NumElements(g.Inputs[i].Shape)
			sample[i] = d[b*n : (b+1)*n]
		}
		got, err := interp.Run(g, sample)
		if err != nil {
			t.Fatal(err)
		}
		for o, w := range wants {
			n := ir.NumElements(g.Outputs[o].Shape)
			want := w[b*n : (b+1)*n]
			for i := range want {
				if msg := compare(got[o][i], want[i], fx.Exact); msg != "" {
					if bad++; bad <= 10 {
						t.Errorf("sample %d output %d [%d]: %s", b, o, i, msg)
					}
				}
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d mismatches in all", bad)
	}
}

func compare(got, want float32, exact bool) string {
	if exact {
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			return fmt.Sprintf("got %g (%#08x), want %g (%#08x) bit for bit", got, math.Float32bits(got), want, math.Float32bits(want))
		}
		return ""
	}
	d := math.Abs(float64(got) - float64(want))
	if d > 1e-6+1e-5*math.Abs(float64(want)) || math.IsNaN(float64(got)) != math.IsNaN(float64(want)) {
		return fmt.Sprintf("got %g, want %g (diff %g)", got, want, d)
	}
	return ""
}

// TestExampleMNIST runs the bundled Larq MNIST BNN on its samples.
func TestExampleMNIST(t *testing.T) {
	runFixture(t, fixture{Name: "mnist_bnn", Model: "examples/mnist_bnn/mnist_bnn.h5",
		Inputs: []string{"examples/mnist_bnn/samples.inputs.npy"}, Expected: []string{"examples/mnist_bnn/samples.expected.npy"}})
}
