package compiler_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
)

// topologies are small Functional models written as Keras would save them,
// combining the constructs of real Larq/QKeras networks that the fixtures
// exercise one at a time: strided pad_values=1 binary convolutions on odd
// sizes, s1 branches concatenated (DenseNet) or added (ResNet/Bi-Real),
// same-padded pools, global pooling, MagnitudeAwareSign, QKeras ternary,
// DoReFa, QKeras QConv2D/QActivation chains, and ZeroPadding2D (asymmetric,
// before float, Larq-quantized, s1 depthwise and s1 QConv2D convolutions).
var topologies = map[string]string{
	"densenet_s1_concat": `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 11, 11, 3]}, "inbound_nodes": []},
 {"class_name": "Conv2D", "name": "stem", "config": {"name": "stem", "filters": 32, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn0", "config": {"name": "bn0"}, "inbound_nodes": [[["stem", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "b1", "config": {"name": "b1", "filters": 32, "kernel_size": [3, 3], "padding": "same", "pad_values": 1.0, "use_bias": false, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}, "inbound_nodes": [[["bn0", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn1", "config": {"name": "bn1"}, "inbound_nodes": [[["b1", 0, 0, {}]]]},
 {"class_name": "Concatenate", "name": "cat1", "config": {"name": "cat1", "axis": -1}, "inbound_nodes": [[["bn0", 0, 0, {}], ["bn1", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "b2", "config": {"name": "b2", "filters": 16, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "pad_values": 1.0, "use_bias": false, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}, "inbound_nodes": [[["cat1", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn2", "config": {"name": "bn2", "scale": false}, "inbound_nodes": [[["b2", 0, 0, {}]]]},
 {"class_name": "MaxPooling2D", "name": "mp", "config": {"name": "mp", "pool_size": [3, 3], "strides": [2, 2], "padding": "same"}, "inbound_nodes": [[["bn2", 0, 0, {}]]]},
 {"class_name": "GlobalAveragePooling2D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [[["mp", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "fc", "config": {"name": "fc", "units": 10, "activation": "softmax"}, "inbound_nodes": [[["gap", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0]], "output_layers": [["fc", 0, 0]]}}`,
	"birealnet_add": `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 9, 9, 3]}, "inbound_nodes": []},
 {"class_name": "Conv2D", "name": "stem", "config": {"name": "stem", "filters": 24, "kernel_size": [3, 3], "padding": "same", "use_bias": false}, "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn0", "config": {"name": "bn0"}, "inbound_nodes": [[["stem", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "b1", "config": {"name": "b1", "filters": 24, "kernel_size": [3, 3], "padding": "same", "use_bias": false, "input_quantizer": {"class_name": "ApproxSign", "config": {}}, "kernel_quantizer": {"class_name": "MagnitudeAwareSign", "config": {"clip_value": 1.0}}}, "inbound_nodes": [[["bn0", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn1", "config": {"name": "bn1", "momentum": 0.8}, "inbound_nodes": [[["b1", 0, 0, {}]]]},
 {"class_name": "Add", "name": "add1", "config": {"name": "add1"}, "inbound_nodes": [[["bn0", 0, 0, {}], ["bn1", 0, 0, {}]]]},
 {"class_name": "AveragePooling2D", "name": "ap", "config": {"name": "ap", "pool_size": [2, 2], "strides": [2, 2], "padding": "same"}, "inbound_nodes": [[["add1", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "b2", "config": {"name": "b2", "filters": 24, "kernel_size": [3, 3], "padding": "same", "pad_values": 1.0, "use_bias": false, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}, "inbound_nodes": [[["ap", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn2", "config": {"name": "bn2"}, "inbound_nodes": [[["b2", 0, 0, {}]]]},
 {"class_name": "Add", "name": "add2", "config": {"name": "add2"}, "inbound_nodes": [[["ap", 0, 0, {}], ["bn2", 0, 0, {}]]]},
 {"class_name": "Activation", "name": "relu", "config": {"name": "relu", "activation": "relu"}, "inbound_nodes": [[["add2", 0, 0, {}]]]},
 {"class_name": "GlobalMaxPooling2D", "name": "gmp", "config": {"name": "gmp"}, "inbound_nodes": [[["relu", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "fc", "config": {"name": "fc", "units": 5}, "inbound_nodes": [[["gmp", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0]], "output_layers": [["fc", 0, 0]]}}`,
	"zeropadding": `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 9, 10, 3]}, "inbound_nodes": []},
 {"class_name": "ZeroPadding2D", "name": "zp0", "config": {"name": "zp0", "padding": [[1, 2], [0, 1]]}, "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "Conv2D", "name": "stem", "config": {"name": "stem", "filters": 32, "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid"}, "inbound_nodes": [[["zp0", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn0", "config": {"name": "bn0"}, "inbound_nodes": [[["stem", 0, 0, {}]]]},
 {"class_name": "ZeroPadding2D", "name": "zp1", "config": {"name": "zp1", "padding": 1}, "inbound_nodes": [[["bn0", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "b1", "config": {"name": "b1", "filters": 32, "kernel_size": [3, 3], "padding": "valid", "use_bias": false, "input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}, "inbound_nodes": [[["zp1", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn1", "config": {"name": "bn1"}, "inbound_nodes": [[["b1", 0, 0, {}]]]},
 {"class_name": "QActivation", "name": "s1", "config": {"name": "s1", "activation": "binary(alpha=1)"}, "inbound_nodes": [[["bn1", 0, 0, {}]]]},
 {"class_name": "ZeroPadding2D", "name": "zp2", "config": {"name": "zp2", "padding": [2, 1]}, "inbound_nodes": [[["s1", 0, 0, {}]]]},
 {"class_name": "QDepthwiseConv2D", "name": "dw", "config": {"name": "dw", "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid", "depthwise_quantizer": "binary(alpha=1)", "use_bias": false}, "inbound_nodes": [[["zp2", 0, 0, {}]]]},
 {"class_name": "QConv2D", "name": "pw", "config": {"name": "pw", "filters": 8, "kernel_size": [2, 2], "padding": "valid", "kernel_quantizer": "quantized_bits(4,0,alpha=1)"}, "inbound_nodes": [[["zp2", 0, 0, {}]]]},
 {"class_name": "GlobalAveragePooling2D", "name": "g1", "config": {"name": "g1"}, "inbound_nodes": [[["dw", 0, 0, {}]]]},
 {"class_name": "GlobalAveragePooling2D", "name": "g2", "config": {"name": "g2"}, "inbound_nodes": [[["pw", 0, 0, {}]]]},
 {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat"}, "inbound_nodes": [[["g1", 0, 0, {}], ["g2", 0, 0, {}]]]},
 {"class_name": "Dense", "name": "fc", "config": {"name": "fc", "units": 4}, "inbound_nodes": [[["cat", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0]], "output_layers": [["fc", 0, 0]]}}`,
	"qkeras_ternary_dorefa": `{"class_name": "Functional", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 2]}, "inbound_nodes": []},
 {"class_name": "QConv2D", "name": "c1", "config": {"name": "c1", "filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "kernel_quantizer": "quantized_bits(4,0,alpha=1)", "bias_quantizer": "quantized_bits(8,2,alpha=1)"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "QActivation", "name": "t1", "config": {"name": "t1", "activation": "ternary(alpha=0.5, threshold=0.25)"}, "inbound_nodes": [[["c1", 0, 0, {}]]]},
 {"class_name": "QConv2D", "name": "c2", "config": {"name": "c2", "filters": 8, "kernel_size": [3, 3], "padding": "same", "kernel_quantizer": "binary(alpha=1)", "use_bias": false}, "inbound_nodes": [[["t1", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "name": "bn2", "config": {"name": "bn2"}, "inbound_nodes": [[["c2", 0, 0, {}]]]},
 {"class_name": "QActivation", "name": "t2", "config": {"name": "t2", "activation": "ternary"}, "inbound_nodes": [[["bn2", 0, 0, {}]]]},
 {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["t1", 0, 0, {}], ["t2", 0, 0, {}]]]},
 {"class_name": "QuantConv2D", "name": "c3", "config": {"name": "c3", "filters": 4, "kernel_size": [1, 1], "use_bias": true, "input_quantizer": {"class_name": "DoReFa", "config": {"k_bit": 8, "mode": "activations"}}, "kernel_quantizer": null}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
 {"class_name": "Flatten", "name": "fl", "config": {"name": "fl"}, "inbound_nodes": [[["c3", 0, 0, {}]]]},
 {"class_name": "QDense", "name": "d", "config": {"name": "d", "units": 6, "kernel_quantizer": "quantized_bits(8,1,alpha=1)", "bias_quantizer": "quantized_bits(8,3,alpha=1)", "activation": "quantized_relu(6,2)"}, "inbound_nodes": [[["fl", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}}`,
}

// TestTopologies imports each topology with synthetic weights
// (keras.Options.Fill), compiles it, builds the C library on the host and
// compares outputs and traced intermediates with the interpreter on random
// inputs (s1/s8 exact; f32 within tolerance, looser for lowerings reported
// inexact).
func TestTopologies(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	i := 0
	for name, js := range topologies {
		i++
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name+".json")
			if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
			g, err := keras.Load(p, keras.Options{Fill: zooFill})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			cname := compiler.CName(name)
			res, err := compiler.Compile(g, compiler.Options{Name: cname, Amalgamate: i%2 == 0})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			const samples = 4
			r := rand.New(rand.NewPCG(uint64(len(js)), 5))
			n := ir.NumElements(g.Inputs[0].Shape)
			x := make([]float32, n*samples)
			for k := range x {
				x[k] = float32(r.NormFloat64())
			}
			dir := t.TempDir()
			for fn, b := range res.Files {
				os.WriteFile(filepath.Join(dir, fn), b, 0o644)
			}
			got, tr := buildAndRun(t, dir, cname, g, [][]float32{x}, samples, true)
			exact := g.Outputs[0].Quant.DType != dtype.F32
			rel := 0.0
			if len(res.Report.Inexact) > 0 {
				rel = 1e-4
			}
			for s := 0; s < samples; s++ {
				in := [][]float32{x[s*n : (s+1)*n]}
				want, err := interp.Run(g, in)
				if err != nil {
					t.Fatalf("interp: %v", err)
				}
				m := len(want[0])
				for e := 0; e < m; e++ {
					if !close32(got[0][s*m+e], want[0][e], exact) {
						t.Errorf("sample %d element %d: C %v, interp %v (exact=%v)", s, e, got[0][s*m+e], want[0][e], exact)
						break
					}
				}
				if s == 0 {
					compareTraceTol(t, res.Graph, g, in, tr, rel)
				}
			}
			t.Logf("%d kernel calls, %d inexact, %d fallbacks", len(res.Graph.Nodes), len(res.Report.Inexact), len(res.Report.Fallbacks))
		})
	}
}
