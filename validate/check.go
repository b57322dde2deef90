package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
)

// Library is a generated model library: its C prefix and its files (name ->
// content) as the compiler returns them.
type Library struct {
	Name  string
	Files map[string][]byte
	// Lowered is the compiler's lowered graph (compiler.Result.Graph), if
	// known: a traced tensor whose storage type differs from the imported
	// graph's (the compiler proved an f32 tensor holds s8 values, say) is
	// decoded with the lowered tensor's quantization.
	Lowered *ir.Graph
	// SHA256 identifies the model file(s) the library came from (a Device
	// refuses to run another model's library).
	SHA256 string
}

// CheckOptions tunes Check.
type CheckOptions struct {
	Target   target.CPU
	PerLayer bool   // compile with -DDQNN_TRACE and compare every traced tensor
	Sanitize bool   // host only: AddressSanitizer + UndefinedBehaviorSanitizer
	Compiler string // C compiler, name or path ("" = cc on the host, arm-none-eabi-gcc on Cortex-M)
	// UserCFlags, when UseUserCFlags is set, replace dqnn's -std=c99 -O2
	// -ffp-contract=off: the library is validated as the user builds it.
	UserCFlags    []string
	UseUserCFlags bool
	// Reference, if set, holds outputs the user saved from Keras
	// (model.predict), [sample][output], one per input sample: the C
	// outputs are compared with them too, with the same metrics.
	Reference       [][][]float32
	ReferenceSource string
	Tol             Tolerances
	WorkDir         string        // build directory; "" = a temporary one, removed afterwards
	Timeout         time.Duration // of the run; default 2 minutes
	Device          Device        // run there instead of building for Target
}

// Report is the outcome of a validation.
type Report struct {
	Model  string `json:"model"`
	Target string `json:"target"`
	// Board is the QEMU machine the target's code ran on when it is not the
	// target's own (an M0 image too large for the micro:bit runs on the
	// mps2-an385), BoardReason why.
	Board       string         `json:"board,omitempty"`
	BoardReason string         `json:"board_reason,omitempty"`
	Samples     int            `json:"samples"`
	InputSource string         `json:"inputs"`
	Tolerances  Tolerances     `json:"tolerances"`
	Build       target.Command `json:"build"` // compiler and flags the library was built with
	Outputs     []OutputReport `json:"outputs"`
	// Reference compares the C outputs with the user's saved Keras outputs
	// (--reference), output by output.
	Reference       []OutputReport `json:"reference,omitempty"`
	ReferenceSource string         `json:"reference_source,omitempty"`
	Layers          []LayerReport  `json:"layers,omitempty"`
	FirstDiverging  string         `json:"first_diverging,omitempty"`
	Pass            bool           `json:"pass"`
	// CodeOutputs are the C library's outputs, [sample][output].
	CodeOutputs [][][]float32 `json:"-"`
	BuildTime   time.Duration `json:"-"`
	RunTime     time.Duration `json:"-"`
}

// Check builds lib with a generated runner for opt.Target, runs it on
// inputs (inputs[s][i]: sample s of graph input i) and compares the results
// with the reference interpreter running g.
func Check(ctx context.Context, g *ir.Graph, lib Library, inputs [][][]float32, opt CheckOptions) (*Report, error) {
	if opt.Tol == (Tolerances{}) {
		opt.Tol = DefaultTolerances
	}
	if opt.Target == "" {
		opt.Target = target.Host
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Minute
	}
	if opt.Device != nil {
		return checkDevice(ctx, g, lib, inputs, opt)
	}
	dir := opt.WorkDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dqnn-validate-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	libDir := filepath.Join(dir, "lib")
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		return nil, err
	}
	var srcs []string
	names := make([]string, 0, len(lib.Files))
	for n := range lib.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n != filepath.Base(n) {
			return nil, fmt.Errorf("library file %q: names must not contain directories", n)
		}
		p := filepath.Join(libDir, n)
		if err := os.WriteFile(p, lib.Files[n], 0o644); err != nil {
			return nil, err
		}
		if strings.HasSuffix(n, ".c") {
			srcs = append(srcs, p)
		}
	}
	if opt.Reference != nil && len(opt.Reference) != len(inputs) {
		return nil, fmt.Errorf("reference outputs %s: %d samples, the inputs have %d", opt.ReferenceSource, len(opt.Reference), len(inputs))
	}
	r, err := NewStreamRunner(g, lib.Name, inputs)
	if err != nil {
		return nil, err
	}
	// The samples are streamed from a file (semihosting under QEMU), never
	// linked in: any number of them fits any target.
	runC := filepath.Join(dir, "runner.c")
	if err := os.WriteFile(runC, r.Main, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, RunnerInputsFile), r.Stream, 0o644); err != nil {
		return nil, err
	}
	bopt := target.BuildOptions{Sanitize: opt.Sanitize, Compiler: opt.Compiler, UserCFlags: opt.UserCFlags, UseUserCFlags: opt.UseUserCFlags,
		CFlags: []string{"-DDQ_RUNNER_STREAM"}}
	if opt.PerLayer {
		bopt.CFlags = append(bopt.CFlags, "-DDQNN_TRACE")
	}
	cmd, err := target.CompileCommand(opt.Target, bopt)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	exe, err := target.Build(ctx, opt.Target, append([]string{runC}, srcs...), []string{libDir}, dir, bopt)
	var fit *target.FitError
	board := ""
	if errors.As(err, &fit) && opt.Target.HasLargeBoard() {
		// The same ARMv6-M code on a board with room for the model (the
		// micro:bit has 16 KB of RAM): correctness does not depend on it.
		bopt.LargeBoard = true
		board = opt.Target.LargeBoardMachine()
		exe, err = target.Build(ctx, opt.Target, append([]string{runC}, srcs...), []string{libDir}, dir, bopt)
	}
	if err != nil {
		return nil, fmt.Errorf("building model %s for %s: %w", lib.Name, opt.Target, err)
	}
	rep := &Report{Model: g.SourceName(), Target: string(opt.Target), Board: board, Build: cmd, Samples: len(inputs), Tolerances: opt.Tol, BuildTime: time.Since(start)}
	if fit != nil && board != "" {
		rep.BoardReason = fit.Summary()
	}
	res, err := target.Run(ctx, opt.Target, exe, target.RunOptions{Timeout: opt.Timeout, LargeBoard: bopt.LargeBoard})
	if err != nil {
		return nil, err
	}
	rep.RunTime = res.Duration
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("model %s on %s: the runner %w", lib.Name, opt.Target, err)
	}
	out, err := ParseRunner(res.Stdout, len(inputs), len(g.Outputs))
	if err != nil {
		return nil, fmt.Errorf("model %s on %s: %w", lib.Name, opt.Target, err)
	}
	rep.CodeOutputs = out.Outputs
	if err := rep.compare(g, lib, inputs, out, opt); err != nil {
		return nil, err
	}
	return rep, nil
}

// compare runs the reference interpreter on inputs and fills rep with the
// comparison of out (what the library computed) against it.
func (rep *Report) compare(g *ir.Graph, lib Library, inputs [][][]float32, out *RunnerOutput, opt CheckOptions) error {
	// The oracle.
	want := make([][][]float32, len(inputs))
	traces := make([]map[string][]float32, len(inputs))
	for s, in := range inputs {
		if opt.PerLayer {
			tr, err := interp.RunTrace(g, in)
			if err != nil {
				return fmt.Errorf("reference interpreter, sample %d: %w", s, err)
			}
			traces[s] = tr
			for _, t := range g.Outputs {
				want[s] = append(want[s], tr[t.Name])
			}
		} else {
			o, err := interp.Run(g, in)
			if err != nil {
				return fmt.Errorf("reference interpreter, sample %d: %w", s, err)
			}
			want[s] = o
		}
	}
	rep.Pass = true
	for o, t := range g.Outputs {
		got := make([][]float32, len(inputs))
		exp := make([][]float32, len(inputs))
		for s := range inputs {
			got[s], exp[s] = out.Outputs[s][o], want[s][o]
		}
		or, err := compareOutput(t, got, exp, opt.Tol)
		if err != nil {
			return err
		}
		rep.Outputs = append(rep.Outputs, or)
		rep.Pass = rep.Pass && or.Pass
		if opt.Reference != nil {
			for s := range inputs {
				if len(opt.Reference[s]) != len(g.Outputs) {
					return fmt.Errorf("reference outputs %s: sample %d has %d outputs, the model %d", opt.ReferenceSource, s, len(opt.Reference[s]), len(g.Outputs))
				}
				exp[s] = opt.Reference[s][o]
			}
			rr, err := compareOutput(t, got, exp, opt.Tol)
			if err != nil {
				return fmt.Errorf("reference outputs %s: %w", opt.ReferenceSource, err)
			}
			rep.Reference = append(rep.Reference, rr)
			rep.Pass = rep.Pass && rr.Pass
		}
	}
	rep.ReferenceSource = opt.ReferenceSource
	if opt.PerLayer {
		if len(out.Traces) == 0 {
			return fmt.Errorf("model %s: --per-layer, but the library traced no tensor (was it generated with dqnn_trace calls?)", lib.Name)
		}
		tensors := map[string]*ir.Tensor{}
		for _, t := range g.Inputs {
			tensors[t.Name] = t
		}
		for _, n := range g.Nodes {
			for _, t := range n.Outputs {
				tensors[t.Name] = t
			}
		}
		lowered := map[string]*ir.Tensor{}
		if lib.Lowered != nil {
			for _, t := range lib.Lowered.Inputs {
				lowered[t.Name] = t
			}
			for _, n := range lib.Lowered.Nodes {
				for _, t := range n.Outputs {
					lowered[t.Name] = t
				}
			}
		}
		var clayers map[string]ir.CLayer
		if lib.Lowered != nil {
			clayers = ir.CLayers(lib.Lowered)
		}
		index := map[string]int{}
		for _, tr := range out.Traces {
			i, ok := index[tr.Name]
			if !ok {
				i = len(rep.Layers)
				index[tr.Name] = i
				cl, known := clayers[tr.Name]
				if !known {
					cl.CID = -1
				}
				rep.Layers = append(rep.Layers, LayerReport{CID: cl.CID, Layer: cl.Name, Tensor: tr.Name, Pass: true})
			}
			lr := &rep.Layers[i]
			if lr.DType == "" {
				lr.DType = map[int]string{traceF32: "f32", traceS8: "s8", traceS1: "s1"}[tr.DType]
			}
			t, ok := tensors[tr.Name]
			if !ok {
				lr.Error = "not a tensor of the imported graph: not compared"
				continue
			}
			if tr.Sample < 0 || tr.Sample >= len(traces) {
				return fmt.Errorf("trace of %q for sample %d: no such sample", tr.Name, tr.Sample)
			}
			if lt, ok := lowered[tr.Name]; ok && traceDType(tr.DType) != t.Quant.DType && traceDType(tr.DType) == lt.Quant.DType && equalInts(lt.Shape, t.Shape) {
				t = lt // same values, stored as the compiler typed them
			}
			if err := compareTrace(tr, t, traces[tr.Sample][tr.Name], opt.Tol, lr); err != nil {
				lr.Error = err.Error()
				lr.Pass = false
				continue
			}
			if lr.Mismatches > 0 {
				lr.Pass = false
			}
		}
		for _, lr := range rep.Layers {
			if !lr.Pass {
				rep.Pass = false
				if rep.FirstDiverging == "" {
					rep.FirstDiverging = lr.Tensor
				}
			}
		}
	}
	return nil
}

// WriteText prints the report as tables for a terminal.
func (r *Report) WriteText(w io.Writer) {
	var b strings.Builder
	r.writeText(&b)
	textfmt.WriteTrimmed(w, b.String())
}

func (r *Report) writeText(w io.Writer) {
	fmt.Fprintf(w, "model %s on %s, %d samples (%s)\n", r.Model, r.Target, r.Samples, r.InputSource)
	if r.Board != "" {
		fmt.Fprintf(w, "ran on QEMU %s (the same %s code, more memory): %s\n", r.Board, r.Target, r.BoardReason)
	}
	if r.Build.CC != "" {
		fmt.Fprintf(w, "built with: %s\n", r.Build)
	}
	if r.Reference != nil {
		fmt.Fprintln(w, "\nC vs dqnn's reference interpreter:")
	}
	writeOutputs(w, r.Outputs)
	if r.Reference != nil {
		fmt.Fprintf(w, "\nC vs your Keras outputs (%s):\n", r.ReferenceSource)
		writeOutputs(w, r.Reference)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintln(w, "\nper layer (s1/s8 bit for bit, f32 within tolerance):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "c_id\tlayer\ttensor\ttype\telements\tmismatches\tmax abs\tresult\t")
		for _, l := range r.Layers {
			res := "ok"
			switch {
			case l.Error != "" && l.Pass:
				res = "skipped: " + l.Error
			case l.Error != "":
				res = "FAIL: " + l.Error
			case !l.Pass:
				res = "FAIL: " + l.FirstBad
			}
			maxAbs := "-"
			if l.DType == "f32" {
				maxAbs = fmt.Sprintf("%.3g", l.MaxAbs)
			}
			elems := fmt.Sprint(l.Elements)
			if l.Elements == 0 {
				elems = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", l.CID, l.Layer, l.Tensor, l.DType, elems, l.Mismatches, maxAbs, res)
		}
		tw.Flush()
	}
	t := r.Tolerances
	fmt.Fprintf(w, "\ntolerances: |d| <= %g + %g*|ref| per element, l2r <= %g, cos >= %g, argmax agreement >= %g\n", t.ATol, t.RTol, t.MaxL2R, t.MinCos, t.MinAcc)
	if r.Pass {
		fmt.Fprintln(w, "PASS")
	} else if r.FirstDiverging != "" {
		fmt.Fprintf(w, "FAIL: first diverging tensor %q\n", r.FirstDiverging)
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

// writeOutputs prints one table row per output, then each output's failures.
func writeOutputs(w io.Writer, outputs []OutputReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output\tshape\ttype\tacc\trmse\tmae\tl2r\tcos\tmax abs\t\t")
	for _, o := range outputs {
		acc := "-"
		if !math.IsNaN(o.Metrics.Acc) {
			acc = fmt.Sprintf("%.4f", o.Metrics.Acc)
		}
		res := "PASS"
		if !o.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t%.3g\t%s\t\n", o.Name, o.Shape, o.DType, acc, o.Metrics.RMSE, o.Metrics.MAE, o.Metrics.L2R, o.Metrics.Cos, o.Metrics.MaxAbs, res)
	}
	tw.Flush()
	for _, o := range outputs {
		for _, f := range o.Failures {
			fmt.Fprintf(w, "  %s: %s\n", o.Name, f)
		}
	}
}
