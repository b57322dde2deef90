package keras

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
)

// optModel is a small fully convolutional classifier whose 4×4 average
// pool covers the whole map at the declared 8×8 input (a global pooling
// written as a fixed pool, as the Larq zoo models do).
const optModel = `{"class_name": "Sequential", "config": {"name": "m", "layers": [
  {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 3]}},
  {"class_name": "QuantConv2D", "config": {"name": "c", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "pad_values": 1.0, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign", "use_bias": false}},
  {"class_name": "BatchNormalization", "config": {"name": "bn", "scale": false}},
  {"class_name": "AveragePooling2D", "config": {"name": "gap", "pool_size": [4, 4]}},
  {"class_name": "Flatten", "config": {"name": "f"}},
  {"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}`

func TestOptionsFillAndInputShape(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, []byte(optModel), 0o644); err != nil {
		t.Fatal(err)
	}
	var asked []string
	fill := func(layer, weight string, shape []int) []float32 {
		asked = append(asked, layer+"/"+weight)
		v := make([]float32, ir.NumElements(shape))
		for i := range v {
			v[i] = float32(i%5) - 2.5 // signs -,-,-,+,+ after ste_sign
		}
		return v
	}
	g, err := Load(p, Options{Fill: fill, InputShape: []int{16, 12, 3}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c/kernel", "bn/beta", "bn/moving_mean", "bn/moving_variance", "d/kernel", "d/bias"}
	if !slices.Equal(asked, want) {
		t.Errorf("Fill was asked for %q, want %q", asked, want)
	}
	byName := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		byName[n.Name] = n
	}
	if s := g.Inputs[0].Shape; !slices.Equal(s, []int{16, 12, 3}) {
		t.Errorf("input shape %v", s)
	}
	pool := byName["gap"].Attrs.(*ir.PoolAttrs)
	if pool.PoolH != 8 || pool.PoolW != 6 || !slices.Equal(byName["gap"].Outputs[0].Shape, []int{1, 1, 4}) {
		t.Errorf("whole-image pool not resized: %+v -> %v", *pool, byName["gap"].Outputs[0].Shape)
	}
	ca := byName["c"].Attrs.(*ir.ConvAttrs)
	if ca.Kernel.Data[0] != -1 || ca.Kernel.Data[3] != 1 {
		t.Errorf("kernel quantizer not applied to filled weights: %v", ca.Kernel.Data[:5])
	}
	if d := byName["d"].Attrs.(*ir.DenseAttrs); !slices.Equal(d.Kernel.Shape, []int{4, 3}) {
		t.Errorf("dense kernel shape %v", d.Kernel.Shape)
	}
	if !strings.Contains(strings.Join(g.Notes, "\n"), "covers the whole 8x6 input") {
		t.Errorf("notes %q do not mention the resized pool", g.Notes)
	}
	// Bad overrides are errors naming the problem.
	if _, err := Load(p, Options{Fill: fill, InputShape: []int{16, 16}}); err == nil || !strings.Contains(err.Error(), "rank") {
		t.Errorf("rank mismatch: %v", err)
	}
	if _, err := Load(p, Options{Fill: fill, InputShape: []int{0, 8, 3}}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("zero dimension: %v", err)
	}
}
