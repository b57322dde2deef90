package validate

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/quant"
	"github.com/dqnn/dqnn/target"
)

// Options configure Run (the `dqnn validate` command).
type Options struct {
	Model   string   // .h5, .json or .keras model file
	Weights string   // weights file of a .json model ("" = the importer's default)
	Inputs  []string // .npy files, one per model input, shape (N, ...input shape) or the input shape; nil = random
	// SaveOutputs, if set, receives the C library's outputs as .npy (output i
	// > 0 goes to the name with "_<i>" before the extension).
	SaveOutputs string
	Samples     int   // number of samples: random ones to draw, or the first N of Inputs; 0 = 10 random / all given
	Seed        int64 // seed of the random inputs
	Name        string
	Amalgamate  bool // validate the amalgamated library (exactly NAME.h and NAME.c)
	CheckOptions
}

// DefaultSamples is the number of random samples when none is asked for.
const DefaultSamples = 10

// Run loads the model, compiles it for opt.Target, and checks the C library
// against the reference interpreter on the given or random inputs.
func Run(ctx context.Context, opt Options) (*Report, error) {
	g, err := keras.Load(opt.Model, keras.Options{Weights: opt.Weights})
	if err != nil {
		return nil, err
	}
	if opt.Target == "" {
		opt.Target = target.Host
	}
	name := opt.Name
	if name == "" {
		name = compiler.CName(strings.TrimSuffix(filepath.Base(opt.Model), filepath.Ext(opt.Model)))
	}
	inputs, source, err := Inputs(g, opt.Inputs, opt.Samples, opt.Seed)
	if err != nil {
		return nil, err
	}
	res, err := compiler.Compile(g, compiler.Options{Name: name, Target: string(opt.Target), Amalgamate: opt.Amalgamate})
	if err != nil {
		return nil, err
	}
	rep, err := Check(ctx, g, Library{Name: name, Files: res.Files, Lowered: res.Graph}, inputs, opt.CheckOptions)
	if err != nil {
		return nil, err
	}
	rep.InputSource = source
	if opt.SaveOutputs != "" {
		if err := SaveOutputs(opt.SaveOutputs, g, rep.CodeOutputs); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// SaveOutputs writes outputs[s][i] as one .npy file per model output, shape
// (samples, ...output shape).
func SaveOutputs(path string, g *ir.Graph, outputs [][][]float32) error {
	for i, t := range g.Outputs {
		p := path
		if i > 0 {
			ext := filepath.Ext(path)
			p = strings.TrimSuffix(path, ext) + fmt.Sprintf("_%d", i) + ext
		}
		var data []float32
		for _, s := range outputs {
			data = append(data, s[i]...)
		}
		if err := WriteNPY(p, data, append([]int{len(outputs)}, t.Shape...)); err != nil {
			return err
		}
	}
	return nil
}

// Inputs returns the samples to validate with: read from files (one .npy
// per model input) or, when files is empty, drawn uniformly from each
// input's range with the given seed. It also says where they came from.
func Inputs(g *ir.Graph, files []string, samples int, seed int64) ([][][]float32, string, error) {
	if len(files) == 0 {
		if samples <= 0 {
			samples = DefaultSamples
		}
		rng := rand.New(rand.NewSource(seed))
		out := make([][][]float32, samples)
		var ranges []string
		for i, t := range g.Inputs {
			lo, hi, why := InputRange(g, t)
			ranges = append(ranges, fmt.Sprintf("%s in [%g, %g] (%s)", t.Name, lo, hi, why))
			for s := range out {
				if i == 0 {
					out[s] = make([][]float32, len(g.Inputs))
				}
				v := make([]float32, ir.NumElements(t.Shape))
				for k := range v {
					v[k] = float32(lo + (hi-lo)*rng.Float64())
				}
				out[s][i] = v
			}
		}
		return out, fmt.Sprintf("random, seed %d: %s", seed, strings.Join(ranges, "; ")), nil
	}
	if len(files) != len(g.Inputs) {
		return nil, "", fmt.Errorf("model %s has %d inputs, %d .npy files given (one per input, in order)", g.Name, len(g.Inputs), len(files))
	}
	var out [][][]float32
	for i, f := range files {
		data, shape, err := ReadNPY(f)
		if err != nil {
			return nil, "", err
		}
		t := g.Inputs[i]
		n := ir.NumElements(t.Shape)
		count := 0
		switch {
		case equalInts(shape, t.Shape):
			count = 1
		case len(shape) == len(t.Shape)+1 && equalInts(shape[1:], t.Shape):
			count = shape[0]
		case len(shape) == 2 && shape[1] == n:
			count = shape[0]
		default:
			return nil, "", fmt.Errorf("%s: shape %v does not match input %q of shape %v (want (N, %s))", f, shape, t.Name, t.Shape, strings.Trim(fmt.Sprint(t.Shape), "[]"))
		}
		if samples > 0 && samples < count {
			count = samples
		}
		if i == 0 {
			out = make([][][]float32, count)
			for s := range out {
				out[s] = make([][]float32, len(files))
			}
		} else if count != len(out) {
			return nil, "", fmt.Errorf("%s: %d samples, but %s has %d", f, count, files[0], len(out))
		}
		for s := 0; s < count; s++ {
			out[s][i] = data[s*n : (s+1)*n]
		}
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("%s: no samples", files[0])
	}
	return out, strings.Join(files, ", "), nil
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

// InputRange returns the range random values of input t are drawn from: the
// input range of the quantizer that first reads t (QKeras quantized_bits:
// [-2^integer, 2^integer), quantized_relu: [0, 2^integer], DoReFa: [0, 1],
// sign-type and other quantizers: [-1, 1]), or [-1, 1] when a float layer
// reads it; and why.
func InputRange(g *ir.Graph, t *ir.Tensor) (lo, hi float64, why string) {
	var q *ir.Quantizer
	for _, n := range g.Nodes {
		reads := false
		for _, in := range n.Inputs {
			reads = reads || in == t
		}
		if !reads {
			continue
		}
		switch a := n.Attrs.(type) {
		case *ir.QuantizeAttrs:
			q = a.Quantizer
		case *ir.DenseAttrs:
			q = a.InputQuantizer
		case *ir.ConvAttrs:
			q = a.InputQuantizer
		}
		break
	}
	if q == nil {
		return -1, 1, "float input"
	}
	integer, _ := quant.Num(q, "integer")
	scale := math.Ldexp(1, int(integer))
	if a, ok := quant.Num(q, "alpha"); ok && a > 0 {
		scale *= a
	}
	switch q.Class {
	case "quantized_bits":
		if kn, ok := quant.Num(q, "keep_negative"); ok && kn == 0 {
			return 0, scale, q.Class
		}
		return -scale, scale, q.Class
	case "quantized_relu":
		return 0, scale, q.Class
	case "dorefa":
		return 0, 1, q.Class
	case "quantized_po2", "quantized_relu_po2":
		m, ok := quant.Num(q, "max_value")
		if !ok || m <= 0 {
			m = 1
		}
		if q.Class == "quantized_relu_po2" {
			return 0, m, q.Class
		}
		return -m, m, q.Class
	}
	return -1, 1, q.Class
}
