package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/dqnn/dqnn/bench"
	"github.com/dqnn/dqnn/board"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

func init() {
	register("bench", command{summary: "count executed instructions per layer (or of the kernel suite) on an emulated Cortex-M", run: runBench})
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", "", "weights `FILE` of a .json model")
	tgt := fs.String("target", "cortex-m4", "Cortex-M core to emulate: cortex-m0, cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55; or a board running dqnn firmware: serial:PORT[,BAUD], tcp:HOST:PORT (measured cycles)")
	kernels := fs.Bool("kernels", false, "benchmark the kernel suite instead of a model: "+bench.SuiteSummary())
	models := fs.Bool("models", false, "benchmark the model suite instead of a model: the example, RN07, AD08 and qkeras_mnist_cnn (the last three from $"+sharedmodels.Env+"), beside CMSIS-NN figures where known")
	name := fs.String("name", "", "C prefix of the generated library (default: the model file's stem)")
	keep := fs.String("keep", "", "build in `DIR` and keep it")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn bench MODEL [--weights F] [--target cortex-m4] [--json]\n"+
			"       dqnn bench --kernels [--target cortex-m4] [--json]\n"+
			"       dqnn bench --models [--target cortex-m4] [--json]\n\n"+
			"Runs one inference (or the kernel or model suite) under QEMU and reports executed instructions per\n"+
			"layer and in total, exactly and repeatably, with the code size and RAM of the linked image.\n"+
			"Instruction counts are a proxy for cycles, not cycles. Example:\n\n"+
			"  dqnn bench examples/mnist_bnn/mnist_bnn.h5 --target cortex-m4")
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	suite := *kernels || *models
	if (*kernels && *models) || (suite && len(pos) != 0) || (!suite && len(pos) != 1) {
		fs.Usage()
		return 2
	}
	if board.IsLinkTarget(*tgt) {
		if suite {
			fmt.Fprintln(stderr, "dqnn bench: --kernels and --models run under QEMU only; a board times the model its firmware carries")
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		rep, err := benchBoard(ctx, *tgt, pos[0], *weights, *name, *limits, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "dqnn bench: %v\n", err)
			return 1
		}
		return printReport(rep, "board-bench", *asJSON, stdout, stderr)
	}
	cpu, err := target.ParseCPU(*tgt)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn bench: --target: %v\n", err)
		return 2
	}
	if !cpu.IsCortexM() {
		fmt.Fprintf(stderr, "dqnn bench: --target %s: instructions are counted under QEMU; choose a Cortex-M target\n", cpu)
		return 2
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dqnn-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "dqnn bench: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var rep interface{ WriteText(io.Writer) }
	if *kernels {
		rep, err = bench.Kernels(ctx, cpu, dir)
	} else if *models {
		example, ferr := findExample()
		if ferr != nil {
			fmt.Fprintf(stderr, "dqnn bench: --models: %v\n", ferr)
			return 1
		}
		rep, err = bench.Suite(ctx, cpu, example, dir, stderr)
	} else {
		model := pos[0]
		res, g, cerr := compileModel(model, *weights, *limits, compiler.Options{Name: *name, Target: string(cpu)})
		if cerr != nil {
			fmt.Fprintf(stderr, "dqnn bench: %v\n", cerr)
			return 1
		}
		rep, err = bench.Model(ctx, g, validate.Library{Name: libName(model, *name), Files: res.Files, Lowered: res.Graph}, cpu, dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dqnn bench: %v\n", err)
		return 1
	}
	return printReport(rep, "bench", *asJSON, stdout, stderr)
}

// printReport writes a bench report as JSON (of the given schema) or text.
func printReport(rep interface{ WriteText(io.Writer) }, schema string, asJSON bool, stdout, stderr io.Writer) int {
	if asJSON {
		if err := writeJSON(stdout, schema, rep); err != nil {
			fmt.Fprintf(stderr, "dqnn bench: %v\n", err)
			return 1
		}
		return 0
	}
	rep.WriteText(stdout)
	return 0
}
