package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// SuiteModel is one real model of the model suite.
type SuiteModel struct {
	Name string // short name in reports (also the C prefix of its library)
	// Shared is the model's path inside the shared models folder
	// (internal/sharedmodels); empty for the bundled example.
	Shared []string
	// Weights is its separate weights file in the same folder, if any.
	Weights []string
	// Reference holds measured figures of the same layers elsewhere, if any.
	Reference *Reference
}

// Reference is a model's layers measured as calls of another library, on
// the same compiler, flags and instruction counter. The figures are data
// measured outside dqnn, never here.
type Reference struct {
	Library    string           `json:"library"`    // e.g. "CMSIS-NN 99f736a (v7.0.0-43), int8"
	Provenance string           `json:"provenance"` // where and how they were measured
	Layers     []ReferenceLayer `json:"layers"`
}

// ReferenceLayer is one layer of a Reference.
type ReferenceLayer struct {
	Layer    string                `json:"layer"`    // the Keras layer, as dqnn analyze names it
	What     string                `json:"what"`     // its shape, in words
	Function string                `json:"function"` // the library function that ran it
	Counts   map[target.CPU]uint64 `json:"counts"`   // executed instructions per core
}

// Total sums the reference's layers on cpu (0 when any layer lacks cpu).
func (r *Reference) Total(cpu target.CPU) uint64 {
	var n uint64
	for _, l := range r.Layers {
		c, ok := l.Counts[cpu]
		if !ok {
			return 0
		}
		n += c
	}
	return n
}

// CMSISNNRN07 is RN07 run as six int8 CMSIS-NN calls, measured for issue #14
// and recorded in shared/notes/toolchain-facts.md ("Whole-model reference:
// RN07 as int8 CMSIS-NN calls", checked 2026-12-07).
var CMSISNNRN07 = &Reference{
	Library: "CMSIS-NN 99f736a (v7.0.0-43), int8",
	Provenance: "each layer called as TFLite Micro + CMSIS-NN call it (int8 input, per-channel requantization), " +
		"arm-none-eabi-gcc 12.2 -mthumb -O2 -ffunction-sections -fdata-sections, same QEMU instruction counter; " +
		"measured for issue #14 (shared/notes/toolchain-facts.md, 2026-12-07), not here",
	Layers: []ReferenceLayer{
		{"q_conv2d_batchnorm", "conv 1×1, 32×32×3→32", "arm_convolve_1x1_s8_fast", map[target.CPU]uint64{target.CortexM4: 1582741, target.CortexM55: 559806}},
		{"q_conv2d_batchnorm_1", "conv 4×4 same, 32×32×32→4", "arm_convolve_s8", map[target.CPU]uint64{target.CortexM4: 5844238, target.CortexM55: 926706}},
		{"q_conv2d_batchnorm_2", "conv 4×4 same, 32×32×4→32", "arm_convolve_s8", map[target.CPU]uint64{target.CortexM4: 5866798, target.CortexM55: 1279970}},
		{"q_conv2d_batchnorm_3", "conv 4×4 stride 4, 32×32×32→8×8×32", "arm_convolve_s8", map[target.CPU]uint64{target.CortexM4: 1938731, target.CortexM55: 241319}},
		{"q_conv2d_batchnorm_4", "conv 4×4 same, 8×8×32→32", "arm_convolve_s8", map[target.CPU]uint64{target.CortexM4: 1940262, target.CortexM55: 240690}},
		{"q_dense", "dense 2048→10", "arm_fully_connected_s8", map[target.CPU]uint64{target.CortexM4: 39041, target.CortexM55: 11390}},
	},
}

// SuiteModels is the model suite of issue #14: the bundled example and
// three public QKeras models from the shared models folder.
var SuiteModels = []SuiteModel{
	{Name: "mnist_bnn"},
	{Name: "rn07", Shared: []string{"qkeras", "mlperf-tiny-v0.7", "RN07_model_best.h5"}, Reference: CMSISNNRN07},
	{Name: "ad08", Shared: []string{"qkeras", "mlperf-tiny-v0.7", "AD08_model.h5"}},
	{Name: "qkeras_mnist_cnn", Shared: []string{"qkeras", "example-models", "qkeras_mnist_cnn.json"},
		Weights: []string{"qkeras", "example-models", "qkeras_mnist_cnn_weights.h5"}},
}

// SuiteEntry is one model of the suite on one core.
type SuiteEntry struct {
	Name      string       `json:"name"`
	Path      string       `json:"path"` // as found: relative to the shared models folder, or the example's
	Report    *ModelReport `json:"report"`
	Reference *Reference   `json:"reference,omitempty"`
}

// SuiteReport is the model suite on one core.
type SuiteReport struct {
	Target  string        `json:"target"`
	Models  []SuiteEntry  `json:"models"`
	Note    string        `json:"note"`
	Elapsed time.Duration `json:"-"`
}

// Suite benchmarks SuiteModels on cpu: example is the bundled example's
// path; the others come from the shared models folder. progress, if not
// nil, gets a line per model (the suite takes minutes).
func Suite(ctx context.Context, cpu target.CPU, example, workDir string, progress io.Writer) (*SuiteReport, error) {
	start := time.Now()
	rep := &SuiteReport{Target: string(cpu), Note: ProxyNote}
	for i, m := range SuiteModels {
		path, weights, shown := example, "", example
		if m.Shared != nil {
			path = sharedmodels.Path(m.Shared...)
			shown = filepath.Join(m.Shared...)
			if m.Weights != nil {
				weights = sharedmodels.Path(m.Weights...)
			}
		}
		if path == "" {
			return nil, fmt.Errorf("model suite: %s: the shared models folder is unknown: set %s", m.Name, sharedmodels.Env)
		}
		for _, p := range []string{path, weights} {
			if _, err := os.Stat(p); p != "" && err != nil {
				return nil, fmt.Errorf("model suite: %s: %w (set %s to the shared models folder)", m.Name, err, sharedmodels.Env)
			}
		}
		if progress != nil {
			fmt.Fprintf(progress, "model suite on %s: %d/%d %s\n", cpu, i+1, len(SuiteModels), shown)
		}
		g, err := keras.Load(path, keras.Options{Weights: weights})
		if err != nil {
			return nil, fmt.Errorf("model suite: %s: %w", m.Name, err)
		}
		res, err := compiler.Compile(g, compiler.Options{Name: m.Name, Target: string(cpu)})
		if err != nil {
			return nil, fmt.Errorf("model suite: %s: %w", m.Name, err)
		}
		mr, err := Model(ctx, g, validate.Library{Name: m.Name, Files: res.Files, Lowered: res.Graph}, cpu, filepath.Join(workDir, m.Name))
		if err != nil {
			return nil, fmt.Errorf("model suite: %s: %w", m.Name, err)
		}
		rep.Models = append(rep.Models, SuiteEntry{Name: m.Name, Path: shown, Report: mr, Reference: m.Reference})
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// ReferenceFor returns the reference count of the first row of each
// referenced Keras layer in r's layers, in order (0: no reference). A layer
// traced as several rows (e.g. a conv and the flatten after it) carries the
// reference on its first row.
func ReferenceFor(ref *Reference, r *ModelReport, cpu target.CPU) []uint64 {
	out := make([]uint64, len(r.Layers))
	if ref == nil {
		return out
	}
	seen := map[string]bool{}
	for i, l := range r.Layers {
		if seen[l.Layer] {
			continue
		}
		for _, rl := range ref.Layers {
			if rl.Layer == l.Layer {
				out[i] = rl.Counts[cpu]
				seen[l.Layer] = true
			}
		}
	}
	return out
}

// Ratio formats a/b as "0.78×" ("" when b is 0).
func Ratio(a, b uint64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// WriteText prints the suite: a summary, then each model per layer.
func (s *SuiteReport) WriteText(w io.Writer) {
	cpu := target.CPU(s.Target)
	fmt.Fprintf(w, "model suite on %s (QEMU)\n\n", s.Target)
	tb := textfmt.NewTable()
	tb.Row("model", "instructions", "reference", "ratio", "code", "const", "RAM")
	for _, e := range s.Models {
		var ref uint64
		if e.Reference != nil {
			ref = e.Reference.Total(cpu)
		}
		m := e.Report.Memory
		tb.Row(e.Name, textfmt.Group(e.Report.Total), groupOrEmpty(ref), Ratio(e.Report.Total, ref),
			textfmt.Group(m.CodeBytes)+" B", textfmt.Group(m.ConstBytes)+" B", textfmt.Group(m.RAMBytes)+" B")
	}
	tb.WriteTo(w)
	for _, e := range s.Models {
		fmt.Fprintf(w, "\n%s (%s)\n", e.Name, e.Path)
		refs := ReferenceFor(e.Reference, e.Report, cpu)
		tb := textfmt.NewTable()
		tb.Row("c_id", "layer", "instructions", "reference", "ratio", "kernels")
		for i, l := range e.Report.Layers {
			tb.Row(l.CID, l.Layer, textfmt.Group(l.Instructions), groupOrEmpty(refs[i]), Ratio(l.Instructions, refs[i]), strings.Join(l.Kernels, " "))
		}
		var ref uint64
		if e.Reference != nil {
			ref = e.Reference.Total(cpu)
		}
		tb.Row("", "total (untraced build)", textfmt.Group(e.Report.Total), groupOrEmpty(ref), Ratio(e.Report.Total, ref), "")
		tb.WriteTo(w)
		if e.Reference != nil {
			fmt.Fprintf(w, "reference: %s; %s\n", e.Reference.Library, e.Reference.Provenance)
		}
	}
	fmt.Fprintf(w, "\nper-layer counts come from a -DDQNN_TRACE build and include one dqnn_trace call each\nnote: %s\n", s.Note)
}

func groupOrEmpty(n uint64) string {
	if n == 0 {
		return ""
	}
	return textfmt.Group(n)
}
