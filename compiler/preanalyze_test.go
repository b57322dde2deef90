package compiler_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
)

// modelsWithWeights lists the fixtures (testdata/models, except the broken
// bad_* ones) and the real shared models that hold weights: .h5/.keras
// files, .json files with a sibling weights file, and SavedModel
// directories (skipped while keras.Load refuses them).
func modelsWithWeights(t *testing.T) []string {
	var out []string
	add := func(dir string, recursive bool) {
		walk := func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if _, err := os.Stat(filepath.Join(p, "keras_metadata.pb")); err == nil {
					out = append(out, p) // a TF SavedModel directory
					return filepath.SkipDir
				}
				if p != dir && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			name := d.Name()
			if strings.HasPrefix(name, "bad_") {
				return nil
			}
			switch filepath.Ext(name) {
			case ".keras":
				out = append(out, p)
			case ".h5":
				// Weights files of .json models are not models.
				stem := strings.TrimSuffix(p, ".h5")
				if _, err := os.Stat(strings.TrimSuffix(stem, "_weights") + ".json"); err == nil {
					return nil
				}
				if _, err := os.Stat(stem + ".json"); err == nil {
					return nil
				}
				out = append(out, p)
			case ".json":
				stem := strings.TrimSuffix(p, ".json")
				for _, w := range []string{stem + "_weights.h5", stem + ".h5"} {
					if _, err := os.Stat(w); err == nil {
						out = append(out, p)
						break
					}
				}
			}
			return nil
		}
		filepath.WalkDir(dir, walk)
	}
	add(filepath.Join("..", "testdata", "models"), false)
	add(filepath.Join("..", "examples"), true)
	shared := sharedmodels.Dir()
	if _, err := os.Stat(shared); shared == "" || err != nil {
		if testenv.InCI() {
			t.Fatalf("shared models absent under CI (%q): set %s", shared, sharedmodels.Env)
		}
		t.Logf("shared models absent (%q): fixtures only", shared)
	} else {
		add(filepath.Join(shared, "qkeras"), true)
		add(filepath.Join(shared, "larq"), true)
	}
	sort.Strings(out)
	return out
}

// TestPreAnalyzeMatchesAnalyze strips the weights of every model that has
// them (keras.Options.IgnoreWeights) and checks that the pre-analyze report
// equals the analyze report with weights: params, MACs, activations, RAM,
// every C-layer (kernel, ops, op type, fused layers), fallbacks and
// inexact layers exactly; weights (ro) exactly when the pre-analyze gives no
// range, else within its range. A layer table may differ only where the
// pre-analyze says a fusion depends on weights. It also checks that
// constBytes, given values, counts exactly what emit writes.
func TestPreAnalyzeMatchesAnalyze(t *testing.T) {
	t.Parallel()
	paths := modelsWithWeights(t)
	if len(paths) < 20 {
		t.Fatalf("found only %d models with weights", len(paths))
	}
	compared := 0
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			g, err := keras.Load(p, keras.Options{})
			if err != nil {
				t.Skipf("not loadable with weights: %v", err)
			}
			ga, err := keras.LoadArchitecture(p, keras.Options{IgnoreWeights: true})
			if err != nil {
				t.Fatalf("architecture only: %v", err)
			}
			if !ga.ShapesOnly {
				t.Fatalf("IgnoreWeights gave a graph with values")
			}
			for _, o := range []struct {
				name string
				opt  compiler.Options
			}{{"default", compiler.Options{}}, {"quantized-io", compiler.Options{QuantizedIO: true}}, {"reference-kernels", compiler.Options{Matrix: compiler.ReferenceOnly{}}}} {
				t.Run(o.name, func(t *testing.T) {
					if comparePreAnalyze(t, g, ga, o.opt) {
						compared++
					}
				})
			}
		})
	}
	t.Logf("%d model/option pairs compared", compared)
}

// comparePreAnalyze compiles g (with weights) and ga (its architecture)
// with opt and compares the reports; false when both refuse the model.
func comparePreAnalyze(t *testing.T, g, ga *ir.Graph, opt compiler.Options) bool {
	want, wantErr := compiler.Compile(g, opt)
	got, gotErr := compiler.Compile(ga, opt)
	if wantErr != nil {
		// The pre-analyze fails too, or lists the refused layer as
		// not supported, for the same reason.
		if gotErr == nil && !slices.ContainsFunc(got.Report.Unsupported, func(u compiler.Fallback) bool {
			return strings.Contains(wantErr.Error(), u.Reason)
		}) {
			t.Fatalf("with weights the compile fails (%v); without weights it succeeds, with unsupported layers %+v", wantErr, got.Report.Unsupported)
		}
		return false
	}
	if gotErr != nil {
		t.Fatalf("pre-analyze: %v", gotErr)
	}
	if len(got.Report.Unsupported) > 0 {
		t.Errorf("with weights the model compiles, without weights it has unsupported layers %+v", got.Report.Unsupported)
	}
	est, lo, hi, node, err := compiler.ConstBytes(want.Graph)
	if err != nil || est != want.Report.WeightsROBytes || lo != est || hi != est {
		t.Errorf("constBytes with values = %d [%d, %d], %v; emit wrote %d B", est, lo, hi, err, want.Report.WeightsROBytes)
	}
	for _, l := range want.Report.Layers {
		i := slices.IndexFunc(want.Graph.Nodes, func(n *ir.Node) bool {
			return len(n.Outputs) > 0 && len(l.Outputs) > 0 && n.Outputs[0].Name == l.Outputs[0]
		})
		if i < 0 || node[i] != l.WeightsBytes {
			t.Errorf("layer %s: constBytes with values counts %v B, emit wrote %d B", l.Name, node[max(i, 0)], l.WeightsBytes)
		}
	}
	compareReports(t, want.Report, got.Report)
	// The estimate assumes no flip mask and non-trivial multipliers and
	// offsets wherever they depend on the weights; with the weights known,
	// it must be off by exactly the flip masks and the trivial arrays those
	// weights happen to have.
	gotK := map[string]*ir.KernelAttrs{}
	for _, n := range got.Graph.Nodes {
		if k, ok := n.Attrs.(*ir.KernelAttrs); ok {
			gotK[n.Name] = k
		}
	}
	flips, trivial, sameCalls := 0, 0, len(want.Graph.Nodes) == len(got.Graph.Nodes)
	for _, n := range want.Graph.Nodes {
		k, ok := n.Attrs.(*ir.KernelAttrs)
		if !ok || k.Stage == nil {
			continue
		}
		st, gk := k.Stage, gotK[n.Name]
		if gk == nil {
			sameCalls = false
			continue
		}
		if st.Flip != nil {
			flips += 4 * dtype.Words(len(st.Flip))
		}
		if st.Step || (k.Out != dtype.F32 && k.Out != dtype.S8) {
			continue
		}
		folded := st.BN != nil && st.BnMul == nil
		fromW := gk.Weights != nil && gk.Weights.DType != dtype.F32 && gk.Weights.Scale == nil
		if (folded || fromW) && allEqual(st.Mul, 1) {
			trivial += 4 * len(st.Mul)
		}
		if (folded || st.Bias != nil) && allEqual(st.Add, 0) {
			trivial += 4 * len(st.Add)
		}
	}
	if sameCalls && got.Report.WeightsROBytes != want.Report.WeightsROBytes-flips+trivial {
		t.Errorf("weights (ro): estimate %d B, with weights %d B of which %d B flip masks, and %d B of trivial arrays left out", got.Report.WeightsROBytes, want.Report.WeightsROBytes, flips, trivial)
	}
	return true
}

func compareReports(t *testing.T, want, got *compiler.Report) {
	t.Helper()
	if !got.WeightsAbsent || want.WeightsAbsent {
		t.Errorf("weights_absent: with weights %v, without %v", want.WeightsAbsent, got.WeightsAbsent)
	}
	type figs struct {
		Params, MACC, FloatModel        int64
		Activations, Input, Output, RAM int
		OpTypes                         map[string]int64
		Fallbacks                       []compiler.Fallback
		Inexact                         []string
	}
	inexact := func(r *compiler.Report) []string {
		var s []string
		for _, f := range r.Inexact {
			s = append(s, f.Layer)
		}
		slices.Sort(s)
		return slices.Compact(s)
	}
	f := func(r *compiler.Report) figs {
		return figs{r.Params, r.MACC, r.FloatModelBytes, r.ActivationsRWBytes, r.InputBytes, r.OutputBytes, r.RAMTotalBytes, r.OpTypes, r.Fallbacks, inexact(r)}
	}
	fusionDepends := false
	for _, d := range got.DependsOnWeights {
		fusionDepends = fusionDepends || strings.Contains(d.Reason, "max-pool")
	}
	same := func(a, b any) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	// Each layer's share of weights (ro) is checked through the total below.
	layers := func(r *compiler.Report) []compiler.Layer {
		ls := slices.Clone(r.Layers)
		for i := range ls {
			ls[i].WeightsBytes = 0
		}
		return ls
	}
	sum := 0
	for _, l := range got.Layers {
		sum += l.WeightsBytes
	}
	if sum != got.WeightsROBytes {
		t.Errorf("pre-analyze: the layers' weights (ro) add up to %d B, the total is %d B", sum, got.WeightsROBytes)
	}
	if !same(f(want), f(got)) || !same(layers(want), layers(got)) {
		if fusionDepends {
			t.Logf("layer tables differ where the pre-analyze says a fusion depends on weights: %v", got.DependsOnWeights)
		} else {
			x, _ := json.MarshalIndent(f(want), "", " ")
			y, _ := json.MarshalIndent(f(got), "", " ")
			if !same(layers(want), layers(got)) {
				x, _ = json.MarshalIndent(layers(want), "", " ")
				y, _ = json.MarshalIndent(layers(got), "", " ")
			}
			t.Errorf("with weights:\n%s\nwithout:\n%s", x, y)
		}
	}
	rg := got.WeightsRORange
	if rg == nil || rg.Min > got.WeightsROBytes || got.WeightsROBytes > rg.Max {
		t.Fatalf("weights (ro) %d B outside its range %+v", got.WeightsROBytes, rg)
	}
	if want.WeightsROBytes < rg.Min || want.WeightsROBytes > rg.Max {
		t.Errorf("weights (ro) with weights %d B is outside the pre-analyze range [%d, %d] (estimate %d)", want.WeightsROBytes, rg.Min, rg.Max, got.WeightsROBytes)
	}
	if want.WeightsROBytes != got.WeightsROBytes {
		t.Logf("weights (ro): %d B with weights, estimate %d B in [%d, %d]", want.WeightsROBytes, got.WeightsROBytes, rg.Min, rg.Max)
	}
}

// unsupportedArch is a Sequential architecture with layers dqnn does not
// compile between supported ones: a class it does not know
// (LocallyConnected2D), a quantizer no kernel computes on activations
// (quantized_po2) and a supported class with an unsupported argument
// (Conv2D groups=2).
const unsupportedArch = `{"class_name": "Sequential", "config": {"name": "unsup", "layers": [
 {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 16, 16, 3]}},
 {"class_name": "QConv2D", "config": {"name": "c0", "filters": 32, "kernel_size": [3, 3], "padding": "same", "kernel_quantizer": "binary", "use_bias": false}},
 {"class_name": "QActivation", "config": {"name": "a0", "activation": "binary"}},
 {"class_name": "LocallyConnected2D", "config": {"name": "lc1", "filters": 64, "kernel_size": [3, 3], "strides": [2, 2]}},
 {"class_name": "QActivation", "config": {"name": "a1", "activation": "quantized_po2(4)"}},
 {"class_name": "Conv2D", "config": {"name": "g1", "filters": 64, "kernel_size": [1, 1], "groups": 2}},
 {"class_name": "Flatten", "config": {"name": "f"}},
 {"class_name": "QDense", "config": {"name": "d", "units": 10, "kernel_quantizer": "binary"}}
]}}`

// TestPreAnalyzeUnsupported checks that layers dqnn cannot compile get a
// "not supported" row in a pre-analyze, with the layers after them
// analyzed at the shapes Keras gives them, while the importer still refuses
// the model with weights and a layer whose output shape is unknown stops
// the pre-analyze with a clear error.
func TestPreAnalyzeUnsupported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "unsup.json")
	if err := os.WriteFile(p, []byte(unsupportedArch), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keras.Load(p, keras.Options{}); err == nil {
		t.Fatal("Load accepted an architecture without weights")
	}
	g, err := keras.LoadArchitecture(p, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	var rows, classes []string
	for _, l := range r.Layers {
		rows = append(rows, l.Name+" "+l.Type)
	}
	for _, u := range r.Unsupported {
		classes = append(classes, u.Layer+" "+u.Wanted)
		if u.Reason == "" || u.Hint == "" {
			t.Errorf("unsupported %s without reason or hint: %+v", u.Layer, u)
		}
	}
	wantRows := []string{"c0 conv2d", "lc1 not supported: LocallyConnected2D", "a1 not supported: QActivation", "g1 not supported: Conv2D", "d dense"}
	if !slices.Equal(rows, wantRows) || !slices.Equal(classes, []string{"lc1 LocallyConnected2D", "a1 QActivation", "g1 Conv2D"}) {
		t.Errorf("rows %q, unsupported %q", rows, classes)
	}
	// c0: 16·16·32 outputs × 27 taps; d: (7·7·64 = 3136) × 10 + 10 bias;
	// params: 864 + 31,370 (the unsupported layers are left out).
	if r.MACC != 16*16*32*27+3136*10+10 || r.Params != 864+31370 {
		t.Errorf("macc %d, params %d", r.MACC, r.Params)
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), "3 layer(s) are not supported") || !strings.Contains(text.String(), "quantized_po2(4)") || !strings.Contains(text.String(), "groups") {
		t.Errorf("text report:\n%s", text.String())
	}
	// An unknown layer whose output shape no rule gives stops the pre-analyze.
	bad := strings.Replace(unsupportedArch, `"LocallyConnected2D", "config": {"name": "lc1", "filters": 64, "kernel_size": [3, 3], "strides": [2, 2]}`, `"MyLayer", "config": {"name": "lc1"}`, 1)
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keras.LoadArchitecture(p, keras.Options{}); err == nil || !strings.Contains(err.Error(), `layer "lc1" (MyLayer)`) || !strings.Contains(err.Error(), "cannot go past") {
		t.Errorf("unknown layer: %v", err)
	}
}

// TestValuesMissingRefused checks that a graph whose weights have no values
// but that is not marked shapes-only is refused, never compiled to a
// library with made-up constants.
func TestValuesMissingRefused(t *testing.T) {
	t.Parallel()
	g, err := keras.LoadArchitecture(filepath.Join("..", "testdata", "models", "qk_conv.h5"), keras.Options{IgnoreWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	g.ShapesOnly = false
	if _, err := compiler.Compile(g, compiler.Options{}); err == nil || !strings.Contains(err.Error(), "weights missing") {
		t.Errorf("Compile of a graph without values: %v", err)
	}
}

// allEqual reports whether every value is c (emit leaves such arrays out).
func allEqual(v []float32, c float32) bool {
	for _, x := range v {
		if x != c {
			return false
		}
	}
	return true
}
