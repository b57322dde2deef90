package keras

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/ir"
)

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"QDense": "q_dense", "QActivation": "q_activation", "Conv2D": "conv2d", "BatchNormalization": "batch_normalization",
		"QConv2DBatchnorm": "q_conv2d_batchnorm", "InputLayer": "input_layer", "QuantDepthwiseConv2D": "quant_depthwise_conv2d",
		"MaxPooling2D": "max_pooling2d", "Dense": "dense",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// keras3Functional is a Keras 3 functional config: dict inbound_nodes,
// a single-endpoint input_layers, an Add over two branches, a tuple.
const keras3Functional = `{"module": "keras", "class_name": "Functional", "config": {"name": "f", "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 2], "dtype": "float32", "name": "x"}, "name": "x", "inbound_nodes": []},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c1", "filters": 3, "kernel_size": {"class_name": "__tuple__", "items": [3, 3]}, "strides": [1, 1], "padding": "same", "activation": "relu", "use_bias": true},
  "name": "c1", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 2], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c2", "filters": 3, "kernel_size": [1, 1], "use_bias": false},
  "name": "c2", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 2], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add"},
  "name": "add", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["c1", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"keras_history": ["c2", 0, 0]}}]], "kwargs": {}}]}
 ], "input_layers": ["x", 0, 0], "output_layers": [["add", 0, 0]]}}`

func TestParseKeras3Functional(t *testing.T) {
	m, err := parseModelJSON([]byte(keras3Functional))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build("f.json", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 || g.Outputs[0].Name != "add" {
		t.Fatalf("inputs %v outputs %v", g.Inputs, g.Outputs)
	}
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, string(n.Op))
	}
	if got := strings.Join(ops, ","); got != "conv2d,conv2d,add" {
		t.Errorf("ops = %s", got)
	}
	a := g.Nodes[0].Attrs.(*ir.ConvAttrs)
	if a.KernelH != 3 || a.Padding != "same" || a.Activation != "relu" || !equalInts(g.Nodes[0].Outputs[0].Shape, []int{4, 4, 3}) {
		t.Errorf("conv attrs %+v shape %v", a, g.Nodes[0].Outputs[0].Shape)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBuildInputShape(t *testing.T) {
	m, err := parseModelJSON([]byte(`{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2}}], "build_input_shape": [null, 5]}}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build("s.json", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(g.Inputs[0].Shape, []int{5}) {
		t.Errorf("input shape %v, want [5]", g.Inputs[0].Shape)
	}
}

func TestDoubleEncodedJSON(t *testing.T) {
	inner := `{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}}]}}`
	outer := `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`
	m, err := parseModelJSON([]byte(outer))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build("s.json", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Inputs[0].Name != "d_input" || !equalInts(g.Outputs[0].Shape, []int{2}) {
		t.Errorf("got input %q output shape %v", g.Inputs[0].Name, g.Outputs[0].Shape)
	}
}

func TestErrorsNameFileLayerAndFix(t *testing.T) {
	cases := map[string][]string{
		`{"class_name": "Functional", "config": {"layers": [{"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 8]}, "inbound_nodes": []},
		  {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": []}, "inbound_nodes": [[["in", 0, 0, {}]]]}],
		  "input_layers": [["in", 0, 0]], "output_layers": [["inner", 0, 0]]}}`: {"m.json", `"inner"`, "nested models"},
		// Larq binary conv with pad_values=0 is accepted with a note (checked below); these fail:
		`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 2]}},
		  {"class_name": "QConv2DTranspose", "config": {"name": "t", "filters": 2, "kernel_size": [2, 2], "strides": [2, 2], "padding": "valid"}}]}}`: {"m.json", `"t"`, "QConv2DTranspose", "strides=(1, 1)"},
		`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}},
		  {"class_name": "QuantDense", "config": {"name": "d", "units": 2, "input_quantizer": {"class_name": "DoReFa", "config": {"k_bit": 4}}}}]}}`: {"m.json", `"d"`, "QuantDense", "k_bit=8"},
		`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}},
		  {"class_name": "QActivation", "config": {"name": "a", "activation": "binary(alpha=2)"}}]}}`: {"m.json", `"a"`, "alpha=1"},
		`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}},
		  {"class_name": "QDepthwiseConv2DBatchnorm", "config": {"name": "f", "kernel_size": 3}}]}}`: {"m.json", `"f"`, "QDepthwiseConv2DBatchnorm", "rank-4"},
		`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}},
		  {"class_name": "QDense", "config": {"name": "q", "units": 2, "kernel_quantizer": "quantized_bits(4, foo=1)"}}]}}`: {"m.json", `"q"`, "kernel_quantizer", "foo"},
	}
	for cfgText, want := range cases {
		m, err := parseModelJSON([]byte(cfgText))
		if err == nil {
			_, err = build("m.json", m, nil)
		}
		if err == nil {
			t.Errorf("no error for %s", cfgText)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
}

func TestLarqSameZeroNote(t *testing.T) {
	m, err := parseModelJSON([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 4, 4, 2]}},
	  {"class_name": "QuantConv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3], "padding": "same", "pad_values": 0.0, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := build("m.json", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Notes) != 1 || !strings.Contains(g.Notes[0], "pad_values=1.0") {
		t.Errorf("notes = %q", g.Notes)
	}
	if g.Nodes[0].Name != "c/input_quantizer" || g.Nodes[0].Op != ir.OpQuantize || g.Nodes[1].Inputs[0] != g.Nodes[0].Outputs[0] {
		t.Errorf("input quantizer is not its own node before the conv: %+v", g.Nodes[0])
	}
}

func TestSavedModelDirRefused(t *testing.T) {
	// A broken keras_metadata.pb is named in the error.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keras_metadata.pb"), []byte{1}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "keras_metadata.pb") {
		t.Errorf("error = %v", err)
	}
	// A SavedModel without Keras metadata (tf.saved_model.save) is refused
	// with the way to convert it.
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "saved_model.pb"), []byte{8, 1}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "SavedModel") || !strings.Contains(err.Error(), ".h5") {
		t.Errorf("error = %v", err)
	}
}

func TestJSONWithoutWeights(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.json")
	cfgText := `{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}`
	if err := os.WriteFile(p, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, Options{}); err == nil || !strings.Contains(err.Error(), "m_weights.h5") {
		t.Errorf("Load without weights: %v", err)
	}
	g, err := LoadArchitecture(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Notes) == 0 || !strings.Contains(g.Notes[0], "architecture only") {
		t.Errorf("notes = %q", g.Notes)
	}
}

// FuzzParseConfig feeds arbitrary model_config JSON to the config parser and
// the graph builder (architecture only): errors are fine, panics are not,
// and every graph built must pass Verify.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(keras3Functional))
	for _, p := range []string{"../testdata/models/qk_json_dense.json", "../testdata/models/bad_missing_weights.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 6, 6, 3]}},
	  {"class_name": "QuantConv2D", "config": {"name": "c", "filters": 4, "kernel_size": 3, "padding": "same", "pad_values": 1.0, "input_quantizer": "ste_sign", "kernel_quantizer": {"class_name": "SteSign", "config": {}}}},
	  {"class_name": "MaxPooling2D", "config": {"name": "p"}}, {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": [3]}},
	  {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "QDense", "config": {"name": "d", "units": 3, "kernel_quantizer": "binary", "activation": "quantized_relu(4)"}},
	  {"class_name": "Reshape", "config": {"name": "r", "target_shape": [3, -1]}}]}}`))
	f.Add([]byte(`"{\"class_name\": \"Functional\", \"config\": {\"layers\": [], \"input_layers\": [], \"output_layers\": []}}"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g *ir.Graph
		var err error
		n := safeio.Allocated(func() {
			var m *model
			if m, err = parseModelJSON(data); err == nil {
				g, err = build("fuzz.json", m, nil)
			}
		})
		// Decoding JSON costs a multiple of its size; an architecture
		// without weights allocates no tensor data, whatever shapes it
		// declares.
		if bound := uint64(16<<20 + 256*len(data)); n > bound {
			t.Fatalf("importing %d bytes of configuration allocated %d bytes (bound %d)", len(data), n, bound)
		}
		if err != nil {
			return
		}
		if err := g.Verify(); err != nil {
			t.Fatalf("built graph fails Verify: %v", err)
		}
	})
}

// fakeWeights serves named arrays per layer.
type fakeWeights map[string][]array

func (f fakeWeights) layer(l *layer) ([]array, error) { return f[l.name], nil }
func (f fakeWeights) file() string                    { return "fake.h5" }

func TestFoldedDenseBatchnorm(t *testing.T) {
	m, err := parseModelJSON([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 2]}},
	  {"class_name": "QDenseBatchnorm", "config": {"name": "f", "units": 2, "epsilon": 0, "folding_mode": "ema_stats_folding",
	   "kernel_quantizer": "quantized_bits(8,2,alpha=1)", "bias_quantizer": null}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	w := fakeWeights{"f": {
		{name: "f/kernel:0", shape: []int{2, 2}, data: []float32{0.25, -0.5, 1, 0.125}},
		{name: "f/bias:0", shape: []int{2}, data: []float32{1, -1}},
		{name: "f/batch_normalization/gamma:0", shape: []int{2}, data: []float32{1.5, 1.5}},
		{name: "f/batch_normalization/beta:0", shape: []int{2}, data: []float32{0.25, 0}},
		{name: "f/iteration:0", shape: []int{}, data: []float32{7}},
		{name: "f/batch_normalization/moving_mean:0", shape: []int{2}, data: []float32{0.5, 0}},
		{name: "f/batch_normalization/moving_variance:0", shape: []int{2}, data: []float32{0.25, 0.25}},
	}}
	g, err := build("m.h5", m, w)
	if err != nil {
		t.Fatal(err)
	}
	a := g.Nodes[0].Attrs.(*ir.DenseAttrs)
	// inv = 1.5 / sqrt(0.25) = 3: kernel ×3, bias' = 3·(b − mean) + beta.
	wantK := []float32{0.75, -1.5, 3, 0.375}
	wantB := []float32{1.75, -3}
	for i, v := range wantK {
		if a.Kernel.Data[i] != v {
			t.Errorf("kernel[%d] = %g, want %g", i, a.Kernel.Data[i], v)
		}
	}
	for i, v := range wantB {
		if a.Bias.Data[i] != v {
			t.Errorf("bias[%d] = %g, want %g", i, a.Bias.Data[i], v)
		}
	}
	if a.KernelQuant.DType.Tag() != "s8" || a.KernelQuant.Scale[0] != 1.0/32 {
		t.Errorf("kernel quant = %+v", a.KernelQuant)
	}
}

func TestBatchNormFusedChoice(t *testing.T) {
	layers := `[{"class_name": "InputLayer", %s"config": {"name": "in", "batch_input_shape": [null, 2, 2, 3]}},
	  {"class_name": "BatchNormalization", %s"config": {"name": "bn"%s}}]`
	for _, c := range []struct {
		module, extra string
		fused         bool
	}{
		{"", "", true},                            // tf-keras, rank 4: fused_batch_norm
		{"", `, "fused": false`, false},           // tf-keras with fused=False
		{`"module": "keras.layers", `, "", false}, // Keras 3: tf.nn.batch_normalization
	} {
		text := `{"class_name": "Sequential", "config": {"layers": ` + fmt.Sprintf(layers, c.module, c.module, c.extra) + `}}`
		m, err := parseModelJSON([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		g, err := build("m.json", m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Nodes[0].Attrs.(*ir.BatchNormAttrs).Fused; got != c.fused {
			t.Errorf("module %q extra %q: Fused = %v, want %v", c.module, c.extra, got, c.fused)
		}
	}
}
