package validate

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
)

// Options configure Run (the `dqnn validate` command).
type Options struct {
	// Model is the path the graph was loaded from, as the user gave it:
	// its stem names the library when Name is empty (else the graph's name).
	Model  string
	Inputs []string // .npy files, one per model input, shaped as SampleCount says; nil = random
	// SaveOutputs, if set, receives the C library's outputs as .npy (output i
	// > 0 goes to the name with "_<i>" before the extension).
	SaveOutputs string
	// Reference lists .npy files of outputs saved from Keras
	// (model.predict(inputs)), one per model output, shape (N, ...output
	// shape) with N at least the number of samples; the C outputs are also
	// compared with them.
	Reference  []string
	Samples    int   // number of samples: random ones to draw, or the first N of Inputs; 0 = 10 random / all given
	Seed       int64 // seed of the random inputs
	Name       string
	Amalgamate bool // validate the amalgamated library (exactly NAME.h and NAME.c)
	// Limits bounds what reading the .npy files may cost (zero fields:
	// defaults).
	Limits safeio.Limits
	CheckOptions
}

// DefaultSamples is the number of random samples when none is asked for.
const DefaultSamples = 10

// Run compiles g, an imported model, for opt.Target, and checks the C
// library against the reference interpreter on the given or random inputs.
// The caller loads g (package keras), so that validation knows the IR only.
func Run(ctx context.Context, g *ir.Graph, opt Options) (*Report, error) {
	if opt.Target == "" {
		opt.Target = target.Host
	}
	name := opt.Name
	switch {
	case name == "" && opt.Model != "":
		name = compiler.CName(strings.TrimSuffix(filepath.Base(opt.Model), filepath.Ext(opt.Model)))
	case name == "":
		name = compiler.CName(g.Name)
	}
	inputs, source, err := inputs(g, opt.Inputs, opt.Samples, opt.Seed, opt.Limits)
	if err != nil {
		return nil, err
	}
	if len(opt.Reference) > 0 {
		if opt.CheckOptions.Reference, err = References(g, opt.Reference, len(inputs), opt.Limits); err != nil {
			return nil, err
		}
		opt.ReferenceSource = strings.Join(opt.Reference, ", ")
	}
	copt := compiler.Options{Name: name, Target: string(opt.Target), Amalgamate: opt.Amalgamate}
	if opt.Device != nil {
		copt.Target = string(opt.Device.CPU())
	}
	res, err := compiler.Compile(g, copt)
	if err != nil {
		return nil, err
	}
	rep, err := Check(ctx, g, Library{Name: name, Files: res.Files, Lowered: res.Graph, SHA256: g.SHA256()}, inputs, opt.CheckOptions)
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

// References reads the user's saved model outputs: one .npy per model
// output, shaped as SampleCount says (as model.predict returns them: (N,
// ...output shape)), each file within limits.File; the first samples rows
// are returned as [sample][output].
func References(g *ir.Graph, files []string, samples int, limits safeio.Limits) ([][][]float32, error) {
	if len(files) != len(g.Outputs) {
		return nil, fmt.Errorf("--reference: model %s has %d outputs, %d .npy files given (one per output, in order)", g.Name, len(g.Outputs), len(files))
	}
	out := make([][][]float32, samples)
	for s := range out {
		out[s] = make([][]float32, len(files))
	}
	for o, f := range files {
		data, shape, err := ReadNPYLimits(f, limits)
		if err != nil {
			return nil, fmt.Errorf("--reference: %w", err)
		}
		t := g.Outputs[o]
		n := ir.NumElements(t.Shape)
		count, err := SampleCount(f, shape, fmt.Sprintf("output %d %q", o, t.Name), t.Shape)
		if err != nil {
			return nil, fmt.Errorf("--reference: %w", err)
		}
		if count < samples {
			return nil, fmt.Errorf("--reference %s: %d samples of output %q, but %d input samples are validated (save model.predict of the same inputs, or pass --samples %d)", f, count, t.Name, samples, count)
		}
		if len(data) < samples*n {
			return nil, fmt.Errorf("--reference %s: %d values, want at least %d", f, len(data), samples*n)
		}
		for s := 0; s < samples; s++ {
			out[s][o] = data[s*n : (s+1)*n]
		}
	}
	return out, nil
}

// Inputs returns the samples to validate with: read from files (one .npy
// per model input) or, when files is empty, drawn uniformly from each
// input's range with the given seed. It also says where they came from.
func Inputs(g *ir.Graph, files []string, samples int, seed int64) ([][][]float32, string, error) {
	return inputs(g, files, samples, seed, safeio.Limits{})
}

// inputs is Inputs with the .npy files' size capped by limits.File.
func inputs(g *ir.Graph, files []string, samples int, seed int64, limits safeio.Limits) ([][][]float32, string, error) {
	if len(files) == 0 {
		if samples <= 0 {
			samples = DefaultSamples
		}
		rng := rand.New(rand.NewSource(seed))
		out := make([][][]float32, samples)
		var ranges []string
		for i, t := range g.Inputs {
			r := inputRange(g, t)
			ranges = append(ranges, fmt.Sprintf("%s in [%g, %g] (%s)", t.Name, r.lo, r.hi, r.why))
			for s := range out {
				if i == 0 {
					out[s] = make([][]float32, len(g.Inputs))
				}
				v := make([]float32, ir.NumElements(t.Shape))
				for k := range v {
					v[k] = r.draw(rng)
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
		data, shape, err := ReadNPYLimits(f, limits)
		if err != nil {
			return nil, "", err
		}
		t := g.Inputs[i]
		n := ir.NumElements(t.Shape)
		count, err := SampleCount(f, shape, fmt.Sprintf("input %q", t.Name), t.Shape)
		if err != nil {
			return nil, "", err
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

// SampleCount applies the one shape rule for sample files (docs/validate.md:
// inputs, and saved reference outputs) to a file of the given shape for a
// tensor of shape want (what names it in errors: `input "x"`): a file of
// exactly the tensor's shape is one sample; otherwise its first dimension
// counts the samples and the others may be any shape holding the tensor's
// element count ((N, 784) for a 28×28×1 input).
func SampleCount(file string, shape []int, what string, want []int) (int, error) {
	n := ir.NumElements(want)
	switch {
	case equalInts(shape, want):
		return 1, nil
	case len(shape) >= 1 && ir.NumElements(shape[1:]) == n:
		if shape[0] == 0 {
			return 0, fmt.Errorf("%s: shape %v holds no samples", file, shape)
		}
		return shape[0], nil
	}
	return 0, fmt.Errorf("%s: shape %v does not match %s of shape %v: want (N, %s) for N samples, or the samples flattened to (N, %d), or exactly %v for one sample",
		file, shape, what, want, strings.Trim(fmt.Sprint(want), "[]"), n, want)
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
// [-2^integer, 2^integer) times a numeric alpha, quantized_relu:
// [0, 2^integer], DoReFa: [0, 1], sign-type and other quantizers: [-1, 1]),
// or [-1, 1] when a float layer reads it; and why.
func InputRange(g *ir.Graph, t *ir.Tensor) (lo, hi float64, why string) {
	r := inputRange(g, t)
	return r.lo, r.hi, r.why
}

// valueRange is where random inputs come from. step > 0 is the grid of a
// uniform quantizer (a power of two): a share of the values are put exactly
// half-way between two grid points, where round-half-to-even decides.
type valueRange struct {
	lo, hi, step float64
	quantized    bool // a quantizer reads the input: draw exact zeros too
	why          string
}

func inputRange(g *ir.Graph, t *ir.Tensor) valueRange {
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
		return valueRange{lo: -1, hi: 1, why: "float input"}
	}
	r := quantizerRange(q)
	r.quantized = true
	return r
}

func quantizerRange(q *ir.Quantizer) valueRange {
	switch f := q.Form.(type) {
	case ir.Uniform:
		r := valueRange{why: q.Class}
		r.lo, r.hi = f.Range()
		if r.step = f.TieStep(); r.step > 0 {
			r.why += fmt.Sprintf(", 1/8 of the values on rounding ties (step %g), 1/16 zeros", r.step)
		}
		return r
	case ir.DoReFa:
		return valueRange{lo: 0, hi: 1, why: q.Class}
	case ir.PowerOfTwo:
		r := valueRange{why: q.Class}
		r.lo, r.hi = f.Range()
		return r
	}
	return valueRange{lo: -1, hi: 1, why: q.Class + ", 1/16 zeros (sign(0) = +1)"}
}

// draw returns one random value of r: 1/16 exact zeros (sign(0), relu(0)),
// with a grid 1/8 exact ties (q + 1/2) * step inside the range, else uniform.
func (r valueRange) draw(rng *rand.Rand) float32 {
	switch k := rng.Intn(16); {
	case k == 0 && r.quantized && r.lo <= 0 && r.hi >= 0:
		return 0
	case k <= 2 && r.step > 0:
		n := int(math.Floor((r.hi-r.lo)/r.step)) - 1
		if n > 0 {
			return float32(math.Ceil(r.lo/r.step)*r.step + (float64(rng.Intn(n))+0.5)*r.step)
		}
	}
	return float32(r.lo + (r.hi-r.lo)*rng.Float64())
}
