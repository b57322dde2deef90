package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/bench"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/report"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

func init() {
	register("report", command{summary: "write one self-contained HTML page: graph, cost per layer, memory plan, agreement", run: runReport})
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `FILE` (an .html page)")
	weights := fs.String("weights", "", "weights `FILE` of a .json model")
	name := fs.String("name", "", "C prefix of the generated library (default: the model file's stem)")
	tgt := fs.String("target", "", "Cortex-M core whose executed instructions per layer the page shows (QEMU): cortex-m0, cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55 (default: none)")
	inputs := fs.String("inputs", "", "input samples `X.npy` (comma-separated, one per input): adds the agreement with the reference interpreter, run on --target (default host)")
	quiet := fs.Bool("q", false, "print nothing on success")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn report MODEL -o FILE.html [--weights F] [--target cortex-m4] [--inputs X.npy]\n\n"+
			"Writes one HTML page that works offline (inline CSS and SVG, no script): the model as a\n"+
			"graph of C-layers coloured by data type with fallbacks marked, MACs, weights and (with\n"+
			"--target) executed instructions per layer, the memory plan, and (with --inputs) the\n"+
			"agreement with the reference interpreter. The same inputs give the same bytes. Example:\n\n"+
			"  dqnn report examples/mnist_bnn/mnist_bnn.h5 -o mnist_bnn.html --target cortex-m4 --inputs examples/mnist_bnn/samples.inputs.npy")
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	if len(pos) != 1 {
		return missing(fs, stderr, "MODEL (exactly one)")
	}
	if *out == "" {
		return missing(fs, stderr, "-o FILE (where to write the page)")
	}
	model := pos[0]
	cpu := target.Host
	if *tgt != "" {
		if cpu, err = target.ParseCPU(*tgt); err != nil || !cpu.IsCortexM() {
			fmt.Fprintf(stderr, "dqnn report: --target %s: want a Cortex-M core (instructions are counted under QEMU)\n", *tgt)
			return 2
		}
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dqnn report: %v\n", err)
		return 1
	}
	res, g, err := compileModel(model, *weights, *limits, compiler.Options{Name: *name, Target: string(cpu)})
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	in := report.Inputs{Result: res, Commands: reportCommands(model, *weights, *out, *tgt, *inputs)}
	if *tgt != "" {
		dir, err := os.MkdirTemp("", "dqnn-report-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		st, err := compiler.Stack(ctx, res, libName(model, *name), cpu)
		if err != nil {
			return fail(err)
		}
		res.Report.AddStack(st) // as dqnn analyze --target shows it
		if in.Bench, err = bench.Model(ctx, g, validate.Library{Name: libName(model, *name), Files: res.Files, Lowered: res.Graph}, cpu, dir); err != nil {
			return fail(err)
		}
	}
	if *inputs != "" {
		in.Validate, err = validate.Run(ctx, g, validate.Options{Model: model, Limits: *limits, Name: *name, Inputs: strings.Split(*inputs, ","),
			CheckOptions: validate.CheckOptions{Target: cpu, PerLayer: true}})
		if err != nil {
			return fail(err)
		}
	}
	var page bytes.Buffer
	if err := report.Render(&page, in); err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(*out, page.Bytes()); err != nil {
		return fail(err)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "dqnn report: %s -> %s (%d bytes)\n", model, *out, page.Len())
	}
	return 0
}

// reportCommands are the commands that reproduce each section of the page.
func reportCommands(model, weights, out, tgt, inputs string) report.Commands {
	w := ""
	if weights != "" {
		w = " --weights " + weights
	}
	c := report.Commands{Analyze: "dqnn analyze " + model + w + " --json"}
	if tgt != "" {
		c.Analyze = "dqnn analyze " + model + w + " --target " + tgt + " --json"
	}
	self := "dqnn report " + model + w + " -o " + out
	if tgt != "" {
		self += " --target " + tgt
		c.Bench = "dqnn bench " + model + w + " --target " + tgt + " --json"
	}
	if inputs != "" {
		self += " --inputs " + inputs
		v := "dqnn validate " + model + w + " --inputs " + inputs + " --per-layer"
		if tgt != "" {
			v += " --target " + tgt
		}
		c.Validate = v
	}
	c.Report = self
	return c
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so a reader never sees half a page and an existing file is only
// replaced by a complete one. Special files (devices, FIFOs, directories) are
// refused.
func writeFileAtomic(path string, data []byte) error {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file; choose another -o", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
