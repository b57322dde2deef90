package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/passes"
	"github.com/dqnn/dqnn/target"
)

func init() {
	register("analyze", command{summary: "report sizes, operation counts and f32 fallbacks of a compiled model", run: runAnalyze})
}

// exampleModel is the bundled example, relative to the module root.
const exampleModel = "examples/mnist_bnn/mnist_bnn.h5"

func runAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", "", "weights `FILE` of a .json model (default: <stem>_weights.h5 or <stem>.h5 beside it)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "also print the lowered graph and its memory plan")
	qio := fs.Bool("quantized-io", false, "analyze the model with quantized inputs/outputs (as generate --quantized-io)")
	ref := fs.Bool("reference-kernels", false, "restrict kernel selection to the X-CUBE-AI reference's kernel tables (shows its fallbacks)")
	tgt := fs.String("target", "", "Cortex-M core whose stack ram (total) includes, from its compiler's -fstack-usage and the call graph: cortex-m0, cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55 (default: none, stack not counted)")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: dqnn analyze [MODEL] [--weights FILE] [--json] [-v] [--quantized-io] [--reference-kernels] [--target CPU]\n\n"+
			"Compiles MODEL (.h5, .keras, .json or a SavedModel directory; default: the bundled\n"+
			"%s) in memory and prints params, macc, weights (ro), activations (rw),\n"+
			"ram, the operations per C-layer and per type, and every layer that falls back to f32\n"+
			"kernels with a hint.\n"+
			"Without weights (a .json alone, an .h5/.keras holding only the architecture) it\n"+
			"pre-analyzes: the same figures from shapes and quantizers, under a banner.\n"+
			"Counting rules: docs/analyze.md.\n\n", exampleModel)
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	if len(pos) > 1 {
		fs.Usage()
		return 2
	}
	model := ""
	if len(pos) == 1 {
		model = pos[0]
	} else {
		var err error
		if model, err = findExample(); err != nil {
			fmt.Fprintf(stderr, "dqnn analyze: %v\n", err)
			return 1
		}
	}
	opt := compiler.Options{QuantizedIO: *qio}
	if *ref {
		opt.Matrix = compiler.ReferenceOnly{}
	}
	var cpu target.CPU
	if *tgt != "" {
		if cpu, err = target.ParseCPU(*tgt); err != nil {
			fmt.Fprintf(stderr, "dqnn analyze: --target: %v\n", err)
			return 2
		}
		if !cpu.IsCortexM() {
			fmt.Fprintf(stderr, "dqnn analyze: --target %s: the stack is counted for a Cortex-M core (cortex-m0 ... cortex-m55)\n", cpu)
			return 2
		}
		opt.Target = string(cpu)
	}
	res, _, err := compileModelWith(keras.LoadArchitecture, model, *weights, *limits, opt)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn analyze: %v\n", err)
		return 1
	}
	if cpu != "" {
		st, err := compiler.Stack(context.Background(), res, libName(model, ""), cpu)
		if err != nil {
			fmt.Fprintf(stderr, "dqnn analyze: %s: %v\n", model, err)
			return 1
		}
		res.Report.AddStack(st)
	}
	if *asJSON {
		if err := writeJSON(stdout, "analyze", res.Report); err != nil {
			fmt.Fprintf(stderr, "dqnn analyze: %v\n", err)
			return 1
		}
		return 0
	}
	res.Report.WriteText(stdout)
	if *verbose {
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, passes.Dump(res.Graph, res.Plan))
	}
	return 0
}

// compileModel loads and compiles a model file within limits; the
// provenance names the files the importer read, with their hashes.
// It refuses a model without weights.
func compileModel(model, weights string, limits safeio.Limits, opt compiler.Options) (*compiler.Result, *ir.Graph, error) {
	return compileModelWith(keras.Load, model, weights, limits, opt)
}

// compileModelWith is compileModel with the loader: keras.LoadArchitecture
// accepts an architecture without weights (analyze's pre-analyze).
func compileModelWith(load func(string, keras.Options) (*ir.Graph, error), model, weights string, limits safeio.Limits, opt compiler.Options) (*compiler.Result, *ir.Graph, error) {
	g, err := load(model, keras.Options{Weights: weights, Limits: limits})
	if err != nil {
		return nil, nil, err
	}
	opt.Name = libName(model, opt.Name)
	res, err := compiler.Compile(g, opt)
	if err != nil {
		return nil, nil, err
	}
	return res, g, nil
}

// findExample locates the bundled example relative to the current
// directory or to the root of the dqnn module containing it.
func findExample() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, exampleModel)
		if _, err := os.Stat(p); err == nil {
			if rel, err := filepath.Rel(dir, p); err == nil {
				return rel, nil
			}
			return p, nil
		}
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/dqnn/dqnn\n") {
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no MODEL given and the bundled example %s was not found from %s (run inside the dqnn module, or pass a model file)", exampleModel, dir)
}

// libName is the C prefix of a model's library: name when given, else the
// model file's stem made a C identifier.
func libName(model, name string) string {
	if name != "" {
		return name
	}
	return compiler.CName(strings.TrimSuffix(filepath.Base(model), filepath.Ext(model)))
}
