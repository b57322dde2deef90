package keras_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
)

// oneDModel is a Sequential model over a (10, 3) sequence with the given layers.
func oneDModel(layers ...string) string {
	all := append([]string{`{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 10, 3]}}`}, layers...)
	return `{"class_name": "Sequential", "config": {"name": "m", "layers": [` + strings.Join(all, ",") + `]}}`
}

func loadJSON(t *testing.T, js string) (*ir.Graph, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return keras.Load(p, keras.Options{Fill: zpFill})
}

// TestOneDShapes checks that 1-D layers keep Keras's shapes at the model
// boundary and refuse what Keras refuses.
func TestOneDShapes(t *testing.T) {
	conv := `{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": [3], "strides": [2], "padding": "causal", "dilation_rate": [1]}}`
	g, err := loadJSON(t, oneDModel(conv))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Outputs[0].Shape; !slices.Equal(got, []int{5, 4}) {
		t.Errorf("causal Conv1D stride 2 output shape %v, want [5 4] (Keras's (steps, channels))", got)
	}
	// Each layer goes after the causal Conv1D (after: a 2-D layer fed a 1-D
	// tensor) or right after the (10, 3) input.
	// A Concatenate of a 1-D layer's output and a plain (steps, channels)
	// input is 1-D: the model output has Keras's shape.
	cat := `{"class_name": "Functional", "config": {"name": "m", "layers": [
	  {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 10, 3]}, "inbound_nodes": []},
	  {"class_name": "Conv1D", "name": "a", "config": {"name": "a", "filters": 2, "kernel_size": [1]}, "inbound_nodes": [[["in", 0, 0, {}]]]},
	  {"class_name": "Concatenate", "name": "c", "config": {"name": "c", "axis": -1}, "inbound_nodes": [[["a", 0, 0, {}], ["in", 0, 0, {}]]]}],
	  "input_layers": [["in", 0, 0]], "output_layers": [["c", 0, 0]]}}`
	g, err = loadJSON(t, cat)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Outputs[0].Shape; !slices.Equal(got, []int{10, 5}) {
		t.Errorf("Concatenate of a Conv1D output and the (10, 3) input: output shape %v, want [10 5]", got)
	}
	for _, tc := range []struct {
		after       bool
		layer, want string
	}{
		{true, `{"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2]}}`, "needs a rank-4 input"},
		{true, `{"class_name": "Dense", "config": {"name": "d", "units": 2}}`, "input has shape (5, 4)"},
		{false, `{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3]}}`, "kernel_size must be a positive integer or a list of one"},
		{false, `{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": [3], "padding": "full"}}`, `padding="full" is not supported`},
		{false, `{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": [30]}}`, "smaller than the kernel"},
		{false, `{"class_name": "Dense", "config": {"name": "d", "units": 2}}`, "input has shape (10, 3)"},
	} {
		layers := []string{tc.layer}
		if tc.after {
			layers = []string{conv, tc.layer}
		}
		_, err := loadJSON(t, oneDModel(layers...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.layer, err, tc.want)
		}
	}
}
