package keras_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
)

// zpModel is a Sequential model whose second layer is %s (a ZeroPadding2D
// + padding="valid" convolution, or the equivalent padding="same" one).
func zpModel(pad, conv string) string {
	layers := []string{`{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 7, 6, 4]}}`}
	if pad != "" {
		layers = append(layers, pad)
	}
	layers = append(layers, conv)
	return `{"class_name": "Sequential", "config": {"name": "m", "layers": [` + strings.Join(layers, ",") + `]}}`
}

func zpFill(layer, weight string, shape []int) []float32 {
	v := make([]float32, ir.NumElements(shape))
	for i := range v {
		v[i] = float32((i*7919)%23)/11 - 1
	}
	return v
}

func zpRun(t *testing.T, js string) []float32 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := keras.Load(p, keras.Options{Fill: zpFill})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 7*6*4)
	for i := range x {
		x[i] = float32((i*31)%17)/8 - 1
	}
	out, err := interp.Run(g, [][]float32{x})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestZeroPaddingEquivalence checks the ZeroPadding2D merge against
// padding="same", independently of how either is computed: padding 1 then
// a 3×3 valid conv is TF's SAME for stride 1; before a Larq QuantConv2D
// with a sign input quantizer the padded zeros quantize to +1, which is
// padding="same" with pad_values=1.0 (padding after quantization).
func TestZeroPaddingEquivalence(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"float", zpModel(`{"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": 1}}`, `{"class_name": "Conv2D", "config": {"name": "c", "filters": 5, "kernel_size": 3}}`),
			zpModel("", `{"class_name": "Conv2D", "config": {"name": "c", "filters": 5, "kernel_size": 3, "padding": "same"}}`)},
		{"larq_sign", zpModel(`{"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [1, 1]}}`, `{"class_name": "QuantConv2D", "config": {"name": "c", "filters": 5, "kernel_size": 3, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}}`),
			zpModel("", `{"class_name": "QuantConv2D", "config": {"name": "c", "filters": 5, "kernel_size": 3, "padding": "same", "pad_values": 1.0, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}}`)},
		{"depthwise_stride2", zpModel(`{"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [[1, 1], [0, 1]]}}`, `{"class_name": "DepthwiseConv2D", "config": {"name": "c", "kernel_size": 3, "strides": 2}}`),
			zpModel("", `{"class_name": "DepthwiseConv2D", "config": {"name": "c", "kernel_size": 3, "strides": 2, "padding": "same"}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := zpRun(t, tc.a), zpRun(t, tc.b)
			if len(a) != len(b) {
				t.Fatalf("%d vs %d outputs", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("output %d: ZeroPadding2D+valid %v, same %v", i, a[i], b[i])
				}
			}
		})
	}
}

// TestZeroPaddingRefused checks the message for a ZeroPadding2D that no
// convolution absorbs.
func TestZeroPaddingRefused(t *testing.T) {
	for name, js := range map[string]string{
		"pool":   zpModel(`{"class_name": "ZeroPadding2D", "config": {"name": "zp"}}`, `{"class_name": "MaxPooling2D", "config": {"name": "p"}}`),
		"same":   zpModel(`{"class_name": "ZeroPadding2D", "config": {"name": "zp"}}`, `{"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "padding": "same"}}`),
		"output": zpModel("", `{"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [[1, 0], [2, 3]]}}`),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.json")
			os.WriteFile(p, []byte(js), 0o644)
			_, err := keras.Load(p, keras.Options{Fill: zpFill})
			if err == nil || !strings.Contains(err.Error(), "ZeroPadding2D is supported only") || !strings.Contains(err.Error(), `"zp"`) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
