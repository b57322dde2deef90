package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// LayerCost is the cost of one traced layer.
type LayerCost struct {
	CID          int      `json:"c_id"`              // the C-layer, numbered as dqnn analyze numbers it (-1: none)
	Layer        string   `json:"layer"`             // its Keras layer, as dqnn analyze names it
	Tensor       string   `json:"tensor"`            // the tensor the layer produces (its dqnn_trace name)
	Kernels      []string `json:"kernels,omitempty"` // the C kernels called for it (when the lowered graph is known)
	Instructions uint64   `json:"instructions"`      // from the previous layer's trace call to this one's
}

// Memory is the footprint of the model library inside the linked image.
type Memory struct {
	CodeBytes     uint64 `json:"code_bytes"`     // the library's functions (model + kernels)
	ConstBytes    uint64 `json:"const_bytes"`    // its constant data: weights, thresholds, parameters
	RAMBytes      uint64 `json:"ram_bytes"`      // its data + bss: the activation arena and any state
	ImageText     uint64 `json:"image_text"`     // the whole benchmark image (with runtime and libc): text
	ImageData     uint64 `json:"image_data"`     // ... data
	ImageBSS      uint64 `json:"image_bss"`      // ... bss, including the runtime's stack (StackReserved)
	StackReserved uint64 `json:"stack_reserved"` // the runtime's stack in the image (4 KB on the micro:bit, else 64 KB)
	// StackPeakBytes is the stack one inference needed, measured by painting:
	// the deepest word below NAME_run's caller's SP that the call wrote.
	StackPeakBytes uint64 `json:"stack_peak_bytes"`
	ArenaSymbol    string `json:"arena_symbol"`   // the largest RAM symbol of the library
	ArenaBytes     uint64 `json:"arena_bytes"`    // its size
	LibrarySymbol  string `json:"library_prefix"` // symbols counted as the library's: <name>_*, dq_*
}

// ModelReport is the benchmark of one model on one CPU.
type ModelReport struct {
	Model  string `json:"model"`
	Target string `json:"target"`
	// Total is one inference in the untraced build, from the call of
	// NAME_run to its return (plus the empty marker pair: 2 instructions).
	Total uint64 `json:"total_instructions"`
	// Layers are measured in a second build with -DDQNN_TRACE: each count
	// includes one dqnn_trace call (TraceOverhead on average).
	Layers        []LayerCost   `json:"layers"`
	TracedTotal   uint64        `json:"traced_total_instructions"`
	TraceOverhead float64       `json:"trace_overhead_per_layer"`
	Memory        Memory        `json:"memory"`
	Note          string        `json:"note"`
	Elapsed       time.Duration `json:"-"`
}

// Model benchmarks the library lib (compiled from g) on cpu: it runs one
// inference on a seeded random input (validate.Inputs) twice under the
// instruction counter, once plain for the total and once traced for the
// per-layer split, and reads the memory footprint from the linked image.
func Model(ctx context.Context, g *ir.Graph, lib validate.Library, cpu target.CPU, workDir string) (*ModelReport, error) {
	if !cpu.IsCortexM() {
		return nil, fmt.Errorf("bench: target %s: instruction counting needs a Cortex-M target (it runs under QEMU)", cpu)
	}
	if err := target.Available(cpu); err != nil {
		return nil, err
	}
	start := time.Now()
	inputs, _, err := validate.Inputs(g, nil, 1, 1)
	if err != nil {
		return nil, err
	}
	r, err := validate.NewRunner(g, lib.Name, inputs)
	if err != nil {
		return nil, err
	}
	libDir := filepath.Join(workDir, "lib")
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		return nil, err
	}
	var srcs []string
	for n, b := range lib.Files {
		p := filepath.Join(libDir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		if strings.HasSuffix(n, ".c") {
			srcs = append(srcs, p)
		}
	}
	sort.Strings(srcs)
	runC, inC := filepath.Join(workDir, "runner.c"), filepath.Join(workDir, "runner_inputs.c")
	if err := os.WriteFile(runC, r.Main, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(inC, r.Inputs, 0o644); err != nil {
		return nil, err
	}
	all := append([]string{runC, inC}, srcs...)
	rep := &ModelReport{Model: g.SourceName(), Target: string(cpu), Note: ProxyNote}

	// 1. Untraced: the total and the memory footprint.
	plainDir := filepath.Join(workDir, "plain")
	exe, err := target.Build(ctx, cpu, all, []string{libDir}, plainDir, target.BuildOptions{CFlags: []string{"-DDQ_RUNNER_BENCH"}})
	if err != nil {
		return nil, err
	}
	res, err := runCounted(ctx, cpu, exe, nil)
	if err != nil {
		return nil, err
	}
	spans := spansOf(res.Marks, "dq_bench_begin", "dq_bench_end")
	if len(spans) != 1 {
		return nil, fmt.Errorf("bench: %d measured runs, want 1", len(spans))
	}
	rep.Total = spans[0]
	if rep.Memory, err = memory(ctx, exe, lib.Name); err != nil {
		return nil, err
	}
	if rep.Memory.StackPeakBytes, err = stackPeak(res.Stdout); err != nil {
		return nil, err
	}

	// 2. Traced: per-layer split between successive dqnn_trace calls.
	traceDir := filepath.Join(workDir, "traced")
	exe, err = target.Build(ctx, cpu, all, []string{libDir}, traceDir, target.BuildOptions{CFlags: []string{"-DDQ_RUNNER_BENCH", "-DDQNN_TRACE"}})
	if err != nil {
		return nil, err
	}
	res, err = runCounted(ctx, cpu, exe, [][2]string{{"dqnn_trace", "dqnn_trace"}})
	if err != nil {
		return nil, err
	}
	out, err := validate.ParseRunner(res.Stdout, 1, 0)
	if err != nil {
		return nil, err
	}
	var begin, prev uint64
	var traces []uint64
	for _, m := range res.Marks {
		switch m.Symbol {
		case "dq_bench_begin":
			begin, prev = m.Count, m.Count
		case "dqnn_trace":
			traces = append(traces, m.Count-prev)
			prev = m.Count
		case "dq_bench_end":
			rep.TracedTotal = m.Count - begin
			if len(traces) > 0 {
				// The epilogue after the last trace belongs to the last layer.
				traces[len(traces)-1] += m.Count - prev
			}
		}
	}
	if len(traces) != len(out.Layers) {
		return nil, fmt.Errorf("bench: %d dqnn_trace calls counted, %d tensor names printed", len(traces), len(out.Layers))
	}
	kernels := kernelsPerTrace(lib.Lowered, out.Layers)
	var clayers map[string]ir.CLayer
	if lib.Lowered != nil {
		clayers = ir.CLayers(lib.Lowered)
	}
	for i, n := range traces {
		l, ok := clayers[out.Layers[i]]
		if !ok {
			l = ir.CLayer{CID: -1}
		}
		rep.Layers = append(rep.Layers, LayerCost{CID: l.CID, Layer: l.Name, Tensor: out.Layers[i], Kernels: kernels[i], Instructions: n})
	}
	if len(traces) > 0 && rep.TracedTotal > rep.Total {
		rep.TraceOverhead = float64(rep.TracedTotal-rep.Total) / float64(len(traces))
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// runCounted runs exe counting dq_bench_begin..dq_bench_end plus extra pairs.
func runCounted(ctx context.Context, cpu target.CPU, exe string, extra [][2]string) (*target.Result, error) {
	pairs := append([][2]string{{"dq_bench_begin", "dq_bench_end"}}, extra...)
	res, err := target.Run(ctx, cpu, exe, target.RunOptions{Timeout: 5 * time.Minute, CountBetween: pairs})
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("bench on %s: the runner %w\n%s", cpu, err, res.Stdout)
	}
	return res, nil
}

// stackPeak reads the runner's "stack <hex>" line (DQ_RUNNER_BENCH builds).
func stackPeak(stdout string) (uint64, error) {
	for _, line := range strings.Split(stdout, "\n") {
		if h, ok := strings.CutPrefix(line, "stack "); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(h), 16, 32)
			if err != nil {
				return 0, fmt.Errorf("bench: runner printed a bad stack line %q", line)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("bench: the runner printed no stack line")
}

// memory reads the library's footprint from the image's symbol table.
func memory(ctx context.Context, exe, name string) (Memory, error) {
	sz, err := target.ImageSize(ctx, exe)
	if err != nil {
		return Memory{}, err
	}
	syms, err := target.SymbolTable(ctx, exe)
	if err != nil {
		return Memory{}, err
	}
	m := Memory{ImageText: sz.Text, ImageData: sz.Data, ImageBSS: sz.BSS, LibrarySymbol: name + "_*, dq_*"}
	if m.StackReserved, err = target.StackReserved(ctx, exe); err != nil {
		return Memory{}, err
	}
	for _, s := range syms {
		if !strings.HasPrefix(s.Name, name+"_") && !strings.HasPrefix(s.Name, "dq_") {
			continue
		}
		if isRunnerSymbol(s.Name) {
			continue // the runner's and the runtime's own symbols
		}
		switch s.Type {
		case 'T', 't':
			m.CodeBytes += s.Size
		case 'R', 'r':
			m.ConstBytes += s.Size
		case 'D', 'd', 'B', 'b':
			m.RAMBytes += s.Size
			if s.Size > m.ArenaBytes {
				m.ArenaSymbol, m.ArenaBytes = s.Name, s.Size
			}
		}
	}
	return m, nil
}

// kernelsPerTrace returns, for each traced tensor in order, the C kernels
// of the lowered graph called since the previous traced tensor was produced.
func kernelsPerTrace(lowered *ir.Graph, traced []string) [][]string {
	out := make([][]string, len(traced))
	if lowered == nil {
		return out
	}
	producer := map[string]int{}
	for i, n := range lowered.Nodes {
		for _, t := range n.Outputs {
			producer[t.Name] = i
		}
	}
	prev := -1
	for k, name := range traced {
		i, ok := producer[name]
		if !ok || i <= prev {
			continue
		}
		for _, n := range lowered.Nodes[prev+1 : i+1] {
			if a, ok := n.Attrs.(*ir.KernelAttrs); ok && n.Op == ir.OpKernel && a.Name != "" {
				out[k] = append(out[k], a.Name)
			}
		}
		prev = i
	}
	return out
}

// isRunnerSymbol reports whether a dq_ symbol belongs to the runner
// (validate's runner.c.tmpl: dq_runner_*) or the runtime (target/rt), not
// to the model library.
func isRunnerSymbol(s string) bool {
	for _, p := range []string{"dq_runner_", "dq_rt_", "dq_bench_", "dq_fault", "dq_stack_"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return s == "dq_vectors" || s == "dq_exit" || (strings.HasPrefix(s, "dq_") && strings.HasSuffix(s, "_handler"))
}

// WriteText prints the model report as tables.
func (r *ModelReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "model %s on %s (QEMU)\n\n", r.Model, r.Target)
	tb := textfmt.NewTable()
	tb.Row("c_id", "layer", "output tensor", "instructions", "share", "kernels")
	for _, l := range r.Layers {
		share := 0.0
		if r.TracedTotal > 0 {
			share = 100 * float64(l.Instructions) / float64(r.TracedTotal)
		}
		tb.Row(l.CID, l.Layer, l.Tensor, textfmt.Group(l.Instructions), fmt.Sprintf("%.1f %%", share), strings.Join(l.Kernels, " "))
	}
	tb.Row("", "traced total", "", textfmt.Group(r.TracedTotal), "", "")
	tb.Row("", "total (untraced build)", "", textfmt.Group(r.Total), "", "")
	tb.WriteTo(w)
	fmt.Fprintf(w, "\nper-layer counts come from a -DDQNN_TRACE build and include one dqnn_trace call each (%.1f instructions on average)\n", r.TraceOverhead)
	m := r.Memory
	fmt.Fprintf(w, "\nmemory (symbols %s):\n  code   %8s B\n  const  %8s B (weights, thresholds, parameters)\n  RAM    %8s B (data + bss; arena %s = %s B)\n",
		m.LibrarySymbol, textfmt.Group(m.CodeBytes), textfmt.Group(m.ConstBytes), textfmt.Group(m.RAMBytes), m.ArenaSymbol, textfmt.Group(m.ArenaBytes))
	fmt.Fprintf(w, "  stack  %8s B (peak of one inference, measured by painting the stack)\n", textfmt.Group(m.StackPeakBytes))
	fmt.Fprintf(w, "whole image (runtime and libc included): text %s B, data %s B, bss %s B (%s B stack included)\n",
		textfmt.Group(m.ImageText), textfmt.Group(m.ImageData), textfmt.Group(m.ImageBSS), textfmt.Group(m.StackReserved))
	fmt.Fprintf(w, "\nnote: %s\n", r.Note)
}

// WriteText prints the kernel suite as a table.
func (r *KernelReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "kernel suite on %s (QEMU), net of the empty marker pair (%d instructions)\n\n", r.Target, r.Overhead)
	tb := textfmt.NewTable()
	tb.Row("kernel", "shape", "MACs", "instructions", "MACs/instruction", "code")
	for _, k := range r.Results {
		if k.Skipped != "" {
			tb.Row(k.Kernel, k.Shape, textfmt.Group(k.MACs), "-", "-", "skipped: "+k.Skipped)
			continue
		}
		tb.Row(k.Kernel, k.Shape, textfmt.Group(k.MACs), textfmt.Group(k.Instructions), fmt.Sprintf("%.3f", k.MACsPerInsn), textfmt.Group(k.CodeBytes)+" B")
	}
	tb.WriteTo(w)
	fmt.Fprintf(w, "\nnote: %s\n", r.Note)
}
