package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/emit"
	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/internal/textfmt"
)

func init() {
	register("generate", command{summary: "compile a model into a standalone C library", run: runGenerate})
}

func runGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `DIR` (created if missing)")
	weights := fs.String("weights", "", "weights `FILE` of a .json model (default: <stem>_weights.h5 or <stem>.h5 beside it)")
	name := fs.String("name", "", "C prefix and file stem `NAME` (default: the model file's stem)")
	target := fs.String("target", "cortex-m4", "target: "+strings.Join(compiler.Targets, ", "))
	qio := fs.Bool("quantized-io", false, "NAME_run takes and returns the quantized (s8/s1) types of the model's inputs and outputs")
	amal := fs.Bool("amalgamate", false, "write only NAME.h and NAME.c (types, kernels and data inlined; plus the CMake files unless --no-build-files, and the manifest), for build systems with fixed outputs")
	noBuild := fs.Bool("no-build-files", false, "do not write the CMake files ("+emit.CMakeFile+" and NAME"+emit.CMakeModelSuffix+": add_library(NAME ...) for a consumer's add_subdirectory)")
	quiet := fs.Bool("q", false, "print nothing on success")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn generate MODEL -o DIR [--weights FILE] [--name NAME] [--target T] [--quantized-io] [--amalgamate] [--no-build-files]\n\n"+
			"Writes NAME.h, NAME.c, NAME_data.c, dq_types.h, dq_kernels.h, the kernels the model uses\n"+
			"and their internal header dq_internal.h into DIR (or only NAME.h and NAME.c with\n"+
			"--amalgamate), and "+emit.CMakeFile+" and NAME"+emit.CMakeModelSuffix+" (CMake:\n"+
			"add_subdirectory(DIR), then target_link_libraries(app PRIVATE NAME)). Paths are relative to\n"+
			"the current directory, so it works from go generate:\n\n"+
			"  //go:generate go run github.com/dqnn/dqnn/cmd/dqnn generate model.h5 -o mnist --name mnist\n\n"+
			"Several models may share DIR: each one's files are listed in DIR/NAME.dqnn-manifest.json,\n"+
			"a NAME whose files another model (or the user) owns is refused, unchanged files are not\n"+
			"rewritten, and a file this model wrote before is removed once no model lists it.")
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
		return missing(fs, stderr, "-o DIR (where to write the library)")
	}
	lib := *name
	if lib == "" {
		lib = compiler.CName(strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0])))
	}
	res, _, err := compileModel(pos[0], *weights, *limits, compiler.Options{Name: lib, Target: *target, QuantizedIO: *qio, Amalgamate: *amal})
	if err != nil {
		fmt.Fprintf(stderr, "dqnn generate: %v\n", err)
		return 1
	}
	if !*noBuild {
		cm, err := emit.CMakeFiles(lib, res.Files)
		if err != nil {
			fmt.Fprintf(stderr, "dqnn generate: %v\n", err)
			return 1
		}
		maps.Copy(res.Files, cm)
	}
	written, deleted, err := render.WriteModel(*out, res.Name, res.Files, emit.RuntimeFile)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn generate: %v\n", err)
		return 1
	}
	if !*quiet {
		r := res.Report
		fmt.Fprintf(stdout, "dqnn generate: %s -> %s: %d files (%d written, %d unchanged, %d stale removed); weights %s B, arena %s B, %d fallbacks\n",
			pos[0], *out, len(res.Files), len(written), len(res.Files)-len(written), len(deleted), textfmt.Group(r.WeightsROBytes), textfmt.Group(r.ActivationsRWBytes), len(r.Fallbacks))
	}
	return 0
}
