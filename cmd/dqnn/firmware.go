package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/board"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/validate"
)

func init() {
	register("firmware", command{summary: "write (and build) a validation firmware that runs the model on a board over a serial link", run: runFirmware})
}

func runFirmware(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("firmware", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", "", "weights `FILE` of a .json model")
	boardName := fs.String("board", "", "the board: "+strings.Join(board.BoardNames(), ", "))
	out := fs.String("o", "", "output `DIR`")
	name := fs.String("name", "", "C prefix of the generated library (default: the model file's stem)")
	limits := limitFlags(fs)
	trace := fs.Bool("trace", false, "build with -DDQNN_TRACE: per-layer tensors and cycles (validate --per-layer, bench)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn firmware MODEL --board BOARD -o DIR [--weights F] [--trace]\n\n"+
			"Writes a bare-metal validation firmware for the board: the model library, the protocol loop\n"+
			"(docs/board.md), the board's UART port, startup code, linker script, CMakeLists.txt and\n"+
			"BUILD.bazel; with arm-none-eabi-gcc installed, also DIR/firmware.elf. Flash it, then run\n"+
			"dqnn validate MODEL --target serial:PORT. Example:\n\n"+
			"  dqnn firmware examples/mnist_bnn/mnist_bnn.h5 --board netduinoplus2 --trace -o out/fw")
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	switch {
	case len(pos) != 1:
		return missing(fs, stderr, "MODEL (exactly one)")
	case *out == "":
		return missing(fs, stderr, "-o DIR")
	case *boardName == "":
		return missing(fs, stderr, "--board BOARD")
	}
	b, err := board.LookupBoard(*boardName)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn firmware: --board: %v\n", err)
		return 2
	}
	res, g, err := compileModel(pos[0], *weights, *limits, compiler.Options{Name: *name, Target: string(b.CPU)})
	if err != nil {
		fmt.Fprintf(stderr, "dqnn firmware: %v\n", err)
		return 1
	}
	lib := libName(pos[0], *name)
	opt := board.FirmwareOptions{Trace: *trace}
	files, err := board.Firmware(g, validate.Library{Name: lib, Files: res.Files, Lowered: res.Graph, SHA256: g.SHA256()}, b, opt)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn firmware: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Join(*out, "ld"), 0o755); err != nil {
		fmt.Fprintf(stderr, "dqnn firmware: %v\n", err)
		return 1
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(*out, n), data, 0o644); err != nil {
			fmt.Fprintf(stderr, "dqnn firmware: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "dqnn firmware: %s for %s (%s) -> %s: %d files\n", lib, b.Name, b.CPU, *out, len(files))
	if _, err := exec.LookPath("arm-none-eabi-gcc"); err != nil {
		fmt.Fprintf(stdout, "arm-none-eabi-gcc not installed: build with CMake or Bazel (see %s/CMakeLists.txt)\n", *out)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	elf, err := board.Build(ctx, *out, b, opt)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn firmware: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "built %s\n", elf)
	return 0
}
