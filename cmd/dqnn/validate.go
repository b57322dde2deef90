package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/dqnn/dqnn/board"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

func init() {
	register("validate", command{summary: "prove the generated C equals the reference interpreter (host or emulated Cortex-M)", run: runValidate})
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := validate.DefaultTolerances
	weights := fs.String("weights", "", "weights `FILE` of a .json model")
	inputs := fs.String("inputs", "", "input samples: `X.npy` of shape (N, ...input shape); comma-separated, one per input, for multi-input models (default: random)")
	save := fs.String("save-outputs", "", "write the C library's outputs to `Y.npy` (output i > 0 to Y_i.npy)")
	samples := fs.Int("samples", 0, fmt.Sprintf("number of samples: random ones to draw (default %d), or the first N of --inputs (default all)", validate.DefaultSamples))
	seed := fs.Int64("seed", 1, "seed of the random inputs")
	tgt := fs.String("target", "host", "where the C runs: host, cortex-m0, cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55 (QEMU), or a board running dqnn firmware: serial:PORT[,BAUD], tcp:HOST:PORT")
	perLayer := fs.Bool("per-layer", false, "compile with -DDQNN_TRACE and compare every traced tensor; names the first diverging one")
	sanitize := fs.Bool("sanitize", false, "host only: build with -fsanitize=address,undefined")
	cc := fs.String("cc", "", "C compiler, name or `PATH` (default cc on the host, arm-none-eabi-gcc on Cortex-M; e.g. clang, /opt/arm/bin/arm-none-eabi-gcc)")
	cflags := fs.String("cflags", "", "build with your own compiler `FLAGS` (split at spaces) instead of dqnn's -std=c99 -O2 -ffp-contract=off; \"\" = the compiler's defaults")
	reference := fs.String("reference", "", "also compare with outputs saved from Keras: `Y.npy` of model.predict(inputs), shape (N, ...output shape); comma-separated, one per output")
	name := fs.String("name", "", "C prefix of the generated library (default: the model file's stem)")
	rtol := fs.Float64("rtol", d.RTol, "f32: element-wise relative tolerance, |got-ref| <= atol + rtol*|ref|")
	atol := fs.Float64("atol", d.ATol, "f32: element-wise absolute tolerance")
	maxL2R := fs.Float64("max-l2r", d.MaxL2R, "f32: largest accepted ||got-ref||/||ref||")
	minCos := fs.Float64("min-cos", d.MinCos, "f32: smallest accepted cosine similarity")
	minAcc := fs.Float64("min-acc", d.MinAcc, "classifier outputs: smallest accepted argmax agreement (ties within tolerance agree)")
	timeout := fs.Duration("timeout", 2*time.Minute, "kill the runner after this long (a hang is a failure); serial/tcp: the longest the board may stay silent")
	keep := fs.String("keep", "", "build in `DIR` and keep it (runner, library, executable)")
	amal := fs.Bool("amalgamate", false, "validate the amalgamated library (NAME.h and NAME.c only, as generate --amalgamate writes it)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn validate MODEL [--weights F] [--inputs X.npy] [--save-outputs Y.npy] [--samples N] [--seed S]\n"+
			"                      [--target host|cortex-m0|cortex-m0plus|cortex-m3|cortex-m4|cortex-m7|cortex-m33|cortex-m55|serial:PORT[,BAUD]|tcp:HOST:PORT]\n"+
			"                      [--cc CC] [--cflags FLAGS] [--reference Y.npy] [--per-layer] [--sanitize] [--rtol R] ...\n\n"+
			"Generates the C library, builds a runner around it, runs it on the host or under QEMU (or on a\n"+
			"board running the firmware of dqnn firmware, docs/board.md), and\n"+
			"compares every output with dqnn's reference interpreter: s1/s8 values bit for bit, f32 within\n"+
			"the tolerances below. --cc and --cflags build it as your project does; --reference also compares\n"+
			"it with the outputs you saved from Keras. Exit status 0 = PASS, 1 = FAIL or error, 2 = usage. Example:\n\n"+
			"  dqnn validate examples/mnist_bnn/mnist_bnn.h5 --inputs examples/mnist_bnn/samples.inputs.npy --target cortex-m4 --per-layer \\\n"+
			"      --cflags \"-O2\" --reference examples/mnist_bnn/samples.expected.npy")
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	if len(pos) != 1 {
		return missing(fs, stderr, "MODEL (exactly one)")
	}
	if *samples < 0 || (*samples == 0 && flagSet(fs, "samples")) {
		fmt.Fprintf(stderr, "dqnn validate: --samples %d: give a positive number of samples (or leave it out: %d random ones, or every sample of --inputs)\n", *samples, validate.DefaultSamples)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var dev *board.Conn
	cpu := target.Host
	if board.IsLinkTarget(*tgt) {
		var err error
		if dev, err = openBoard(ctx, *tgt, *timeout, stderr); err != nil {
			fmt.Fprintf(stderr, "dqnn validate: %v\n", err)
			return 1
		}
		defer dev.Close()
		cpu = dev.CPU()
	} else if c, err := target.ParseCPU(*tgt); err != nil {
		fmt.Fprintf(stderr, "dqnn validate: --target: %v\n", err)
		return 2
	} else {
		cpu = c
	}
	if *sanitize && cpu != target.Host {
		fmt.Fprintln(stderr, "dqnn validate: --sanitize needs --target host")
		return 2
	}
	opt := validate.Options{
		Model: pos[0], Limits: *limits, SaveOutputs: *save, Samples: *samples, Seed: *seed, Name: *name, Amalgamate: *amal,
		CheckOptions: validate.CheckOptions{
			Target: cpu, PerLayer: *perLayer, Sanitize: *sanitize, Compiler: *cc, WorkDir: *keep, Timeout: *timeout,
			UserCFlags: strings.Fields(*cflags), UseUserCFlags: flagSet(fs, "cflags"),
			Tol: validate.Tolerances{RTol: *rtol, ATol: *atol, MaxL2R: *maxL2R, MinCos: *minCos, MinAcc: *minAcc},
		},
	}
	if *inputs != "" {
		opt.Inputs = strings.Split(*inputs, ",")
	}
	if *reference != "" {
		opt.Reference = strings.Split(*reference, ",")
	}
	if dev != nil {
		opt.Device = dev
	}
	g, err := keras.Load(pos[0], keras.Options{Weights: *weights, Limits: *limits})
	if err != nil {
		fmt.Fprintf(stderr, "dqnn validate: %v\n", err)
		return 1
	}
	rep, err := validate.Run(ctx, g, opt)
	if err != nil {
		fmt.Fprintf(stderr, "dqnn validate: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := writeJSON(stdout, "validate", rep); err != nil {
			fmt.Fprintf(stderr, "dqnn validate: %v\n", err)
			return 1
		}
	} else {
		rep.WriteText(stdout)
	}
	if dev != nil {
		fmt.Fprintf(stderr, "%s: %s\n", dev, dev.CycleSummary())
	}
	if !rep.Pass {
		return 1
	}
	return 0
}
