package validate

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/quant"
	"github.com/dqnn/dqnn/target"
)

const example = "../examples/mnist_bnn/mnist_bnn.h5"

// loadAndRun is what `dqnn validate` does: import opt.Model (with its
// weights file, if any), then Run.
func loadAndRun(opt Options, weights string) (*Report, error) {
	g, err := keras.Load(opt.Model, keras.Options{Weights: weights, Limits: opt.Limits})
	if err != nil {
		return nil, err
	}
	return Run(context.Background(), g, opt)
}

func TestValidateExample(t *testing.T) {
	// Every output tensor of the lowered graph is traced, and every one that
	// the imported graph has too is compared.
	g, err := keras.Load(example, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			imported[o.Name] = true
		}
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, wantCompared := 0, 0
	for _, n := range res.Graph.Nodes {
		for _, o := range n.Outputs {
			wantLayers++
			if imported[o.Name] {
				wantCompared++
			}
		}
	}
	for _, cpu := range []target.CPU{target.Host, target.CortexM4, target.CortexM55} {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
			out := filepath.Join(t.TempDir(), "y.npy")
			rep, err := Run(context.Background(), g, Options{
				Model:        example,
				Inputs:       []string{"../examples/mnist_bnn/samples.inputs.npy"},
				SaveOutputs:  out,
				CheckOptions: CheckOptions{Target: cpu, PerLayer: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteText(&b)
			t.Logf("build %v, run %v\n%s", rep.BuildTime, rep.RunTime, b.String())
			if !rep.Pass {
				t.Fatal("the bundled example does not validate")
			}
			if len(rep.Layers) != wantLayers {
				t.Errorf("%d layers compared, want every one of the %d lowered tensors", len(rep.Layers), wantLayers)
			}
			compared := 0
			for _, l := range rep.Layers {
				if imported[l.Tensor] {
					if l.Elements == 0 || l.Error != "" {
						t.Errorf("layer %s: %d elements compared, error %q", l.Tensor, l.Elements, l.Error)
					}
					compared++
				}
			}
			if compared != wantCompared || compared == 0 {
				t.Errorf("%d layers compared with the interpreter, want %d", compared, wantCompared)
			}
			y, shape, err := ReadNPY(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != 2 || shape[0] != 8 || shape[1] != 10 || len(y) != 80 {
				t.Errorf("saved outputs have shape %v", shape)
			}
		})
	}
}

// TestValidateCatchesCorruptWeight flips the 8 bits of one weight byte in the
// generated data file and checks that validation fails and names a tensor.
func TestValidateCatchesCorruptWeight(t *testing.T) {
	if _, err := os.Stat(example); err != nil {
		t.Fatal(err) // in the repository
	}
	testenv.Need(t, "a runner for "+string(target.Host), target.Available(target.Host))
	g, err := keras.Load(example, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "mnist", Target: "host"})
	if err != nil {
		t.Fatal(err)
	}
	data, ok := res.Files["mnist_data.c"]
	if !ok {
		t.Fatal("no mnist_data.c among the generated files")
	}
	// Element 13 of the second conv's packed weights: output channel 1 (9
	// words per channel), the centre tap, input channels 0-31. Channel 0 of
	// that layer is constant (its threshold is beyond the accumulator's
	// range), so a corruption there would rightly change nothing.
	arrays := regexp.MustCompile(`const uint32_t mnist_\w+_w\[\d+\] = \{`).FindAllIndex(data, -1)
	if len(arrays) < 2 {
		t.Fatalf("found %d packed weight arrays in mnist_data.c", len(arrays))
	}
	words := regexp.MustCompile(`0x[0-9a-f]{8}u`).FindAllIndex(data[arrays[1][1]:], 14)
	if len(words) < 14 {
		t.Fatal("second weight array too short")
	}
	at := arrays[1][1] + words[13][0] + 8 // the low byte's two hex digits
	corrupt := append([]byte(nil), data...)
	b, _ := strconv.ParseUint(string(corrupt[at:at+2]), 16, 8)
	copy(corrupt[at:], fmt.Sprintf("%02x", b^0xff))
	files := map[string][]byte{}
	for k, v := range res.Files {
		files[k] = v
	}
	files["mnist_data.c"] = corrupt
	in, _, err := Inputs(g, []string{"../examples/mnist_bnn/samples.inputs.npy"}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), g, Library{Name: "mnist", Files: files}, in, CheckOptions{Target: target.Host, PerLayer: true})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.WriteText(&sb)
	if rep.Pass || rep.FirstDiverging == "" {
		t.Fatalf("corrupted weight byte not caught:\n%s", sb.String())
	}
	t.Logf("caught; first diverging tensor %q", rep.FirstDiverging)
	// The same library, uncorrupted, passes (the test would be vacuous otherwise).
	files["mnist_data.c"] = data
	rep, err = Check(context.Background(), g, Library{Name: "mnist", Files: files}, in, CheckOptions{Target: target.Host, PerLayer: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass {
		t.Fatal("uncorrupted library fails")
	}
}

func TestRandomInputs(t *testing.T) {
	if _, err := os.Stat(example); err != nil {
		t.Fatal(err) // in the repository
	}
	g, err := keras.Load(example, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, src, err := Inputs(g, nil, 3, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := Inputs(g, nil, 3, 42)
	c, _, _ := Inputs(g, nil, 3, 43)
	if len(a) != 3 || len(a[0]) != 1 || len(a[0][0]) != 784 {
		t.Fatalf("shape of random inputs: %d samples", len(a))
	}
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Error("random inputs are not a function of the seed")
	}
	for _, v := range a[0][0] {
		if v < -1 || v > 1 {
			t.Fatalf("value %v outside [-1, 1] (%s)", v, src)
		}
	}
}

func TestRandomInputsHitTies(t *testing.T) {
	qz, err := quant.ParseString("quantized_bits(4, 1)")
	if err != nil {
		t.Fatal(err)
	}
	x := &ir.Tensor{Name: "x", Shape: []int{256}, Quant: ir.Float()}
	y := &ir.Tensor{Name: "y", Shape: []int{256}, Quant: ir.Float()}
	g := &ir.Graph{Name: "ties", Inputs: []*ir.Tensor{x}, Outputs: []*ir.Tensor{y}, Nodes: []*ir.Node{
		{Name: "q", Op: ir.OpQuantize, Inputs: []*ir.Tensor{x}, Outputs: []*ir.Tensor{y}, Attrs: &ir.QuantizeAttrs{Quantizer: qz}},
	}}
	in, src, err := Inputs(g, nil, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	// quantized_bits(4, 1): step 2^-(4-1-1) = 0.25, range [-2, 2].
	zeros, ties := 0, 0
	for _, s := range in {
		for _, v := range s[0] {
			if v < -2 || v > 2 {
				t.Fatalf("%v outside [-2, 2] (%s)", v, src)
			}
			if v == 0 {
				zeros++
			}
			if f := float64(v) / 0.25; f-math.Floor(f) == 0.5 {
				ties++
			}
		}
	}
	if zeros < 20 || ties < 60 {
		t.Errorf("%d zeros and %d ties in 1024 values (%s); want about 64 and 128", zeros, ties, src)
	}
}
