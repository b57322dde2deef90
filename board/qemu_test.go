package board

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// model is a compiled model with its identity, for firmware tests.
type model struct {
	g   *ir.Graph
	lib validate.Library
}

func compileModel(t *testing.T, path string, cpu target.CPU) model {
	t.Helper()
	return compileWeights(t, path, "", cpu)
}

// compileWeights compiles a model whose weights may come from their own file.
func compileWeights(t *testing.T, path, weights string, cpu target.CPU) model {
	t.Helper()
	g, err := keras.Load(path, keras.Options{Weights: weights})
	if err != nil {
		t.Fatal(err)
	}
	name := compiler.CName(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	res, err := compiler.Compile(g, compiler.Options{Name: name, Target: string(cpu)})
	if err != nil {
		t.Fatal(err)
	}
	return model{g: g, lib: validate.Library{Name: name, Files: res.Files, Lowered: res.Graph, SHA256: g.SHA256()}}
}

const exampleModel = "../examples/mnist_bnn/mnist_bnn.h5"

// builds caches firmware images by model, board and options: tests that
// need the same image share one build. Images live in buildRoot, removed by
// TestMain.
var (
	buildRoot string
	buildsMu  sync.Mutex
	builds    = map[string]*cachedBuild{}
)

type cachedBuild struct {
	once sync.Once
	elf  string
	err  error
}

func TestMain(m *testing.M) {
	var err error
	if buildRoot, err = os.MkdirTemp("", "dqnn-board-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildRoot)
	os.Exit(code)
}

// buildFirmware writes and builds (once per test binary) the firmware of m
// for b and returns the image.
func buildFirmware(t *testing.T, m model, b Board, opt FirmwareOptions) string {
	t.Helper()
	key := fmt.Sprintf("%s-%.12s-%s-%v", m.lib.Name, m.lib.SHA256, b.Name, opt.Trace)
	buildsMu.Lock()
	c, ok := builds[key]
	if !ok {
		c = &cachedBuild{}
		builds[key] = c
	}
	buildsMu.Unlock()
	c.once.Do(func() {
		files, err := Firmware(m.g, m.lib, b, opt)
		if err != nil {
			c.err = err
			return
		}
		dir := filepath.Join(buildRoot, key)
		if err := os.MkdirAll(filepath.Join(dir, "ld"), 0o755); err != nil {
			c.err = err
			return
		}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
				c.err = err
				return
			}
		}
		c.elf, c.err = Build(context.Background(), dir, b, opt)
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.elf
}

func needQEMU(t *testing.T) {
	t.Helper()
	testenv.Need(t, "QEMU and arm-none-eabi-gcc", target.Available(target.CortexM4))
}

// boot starts QEMU emulating b with elf; link is "pty" or "tcp".
func boot(t *testing.T, b Board, elf, link string) *Emulator {
	t.Helper()
	e, err := Emulate(context.Background(), b, elf, link)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// checkAgainst validates m through dev (served by e) and under QEMU's
// runner for cpu (--target cortex-m4, say) and wants the same verdict and
// bit-identical outputs. e is shut down once dev has answered: an idle
// firmware polls its UART, and QEMU spends a core on that while the
// reference run builds.
func checkAgainst(t *testing.T, cpu target.CPU, m model, e *Emulator, dev validate.Device, inputs [][][]float32, perLayer bool) {
	t.Helper()
	ctx := context.Background()
	got, err := validate.Check(ctx, m.g, m.lib, inputs, validate.CheckOptions{Device: dev, PerLayer: perLayer})
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	want, err := validate.Check(ctx, m.g, m.lib, inputs, validate.CheckOptions{Target: cpu, PerLayer: perLayer})
	if err != nil {
		t.Fatal(err)
	}
	if got.Pass != want.Pass || !got.Pass {
		var b strings.Builder
		got.WriteText(&b)
		t.Fatalf("serial verdict %v, %s verdict %v (want both PASS):\n%s", got.Pass, cpu, want.Pass, b.String())
	}
	for s := range want.CodeOutputs {
		for o := range want.CodeOutputs[s] {
			if fmt.Sprint(got.CodeOutputs[s][o]) != fmt.Sprint(want.CodeOutputs[s][o]) {
				t.Fatalf("sample %d output %d: serial %v, %s %v", s, o, got.CodeOutputs[s][o], cpu, want.CodeOutputs[s][o])
			}
		}
	}
	if perLayer && len(got.Layers) != len(want.Layers) {
		t.Fatalf("%d traced layers over serial, %d on %s", len(got.Layers), len(want.Layers), cpu)
	}
	t.Logf("%s: %d samples, %d layers, PASS as on %s", dev, len(inputs), len(got.Layers), cpu)
}

func exampleInputs(t *testing.T, g *ir.Graph) [][][]float32 {
	t.Helper()
	in, _, err := validate.Inputs(g, []string{"../examples/mnist_bnn/samples.inputs.npy"}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestNetduinoPlus2PTY is the acceptance path: the example model
// through the emulated STM32F405 USART1 on a pty, per layer, against
// --target cortex-m4.
func TestNetduinoPlus2PTY(t *testing.T) {
	t.Parallel()
	needQEMU(t)
	m := compileModel(t, exampleModel, target.CortexM4)
	b := Boards["netduinoplus2"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{Trace: true}), "pty")
	c, err := Open(e.Target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.Hello(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Board != "netduinoplus2" || h.CPU != "cortex-m4" || !h.Traced || h.SHA256 != m.lib.SHA256 {
		t.Fatalf("hello %+v", h)
	}
	if h.Cycles {
		t.Errorf("QEMU has no DWT cycle counter, the board says it has one")
	}
	checkAgainst(t, target.CortexM4, m, e, c, exampleInputs(t, m.g), true)
	if s := c.CycleSummary(); !strings.Contains(s, "cycles unavailable") {
		t.Errorf("cycle summary %q: want cycles unavailable under QEMU", s)
	}
}

// TestMPS2AN386TCP runs the untraced firmware through the CMSDK UART on a
// TCP socket.
func TestMPS2AN386TCP(t *testing.T) {
	t.Parallel()
	needQEMU(t)
	m := compileModel(t, exampleModel, target.CortexM4)
	b := Boards["mps2-an386"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{}), "tcp")
	c, err := Open(e.Target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Hello(context.Background()); err != nil {
		t.Fatal(err)
	}
	// An untraced firmware refuses per-layer runs with a clear error.
	_, err = c.Run(context.Background(), m.g, m.lib, exampleInputs(t, m.g)[:1], true)
	if err == nil || !strings.Contains(err.Error(), "dqnn firmware --trace") {
		t.Fatalf("per-layer on an untraced firmware: %v", err)
	}
	checkAgainst(t, target.CortexM4, m, e, c, exampleInputs(t, m.g), false)
}

// resetOnWrite presses reset the first time progress is written (after
// the first sample).
type resetOnWrite struct {
	t    *testing.T
	e    *Emulator
	done bool
}

func (r *resetOnWrite) Write(p []byte) (int, error) {
	if !r.done {
		r.done = true
		if err := r.e.Reset(); err != nil {
			r.t.Error(err)
		}
	}
	return len(p), nil
}

// TestNetduinoPlus2Faults: line noise and an overlong frame before the
// hello, a host expecting another model, and a reset mid-run, against the
// emulated board: each gives its error (or is survived) without a hang, and
// the board serves again afterwards.
func TestNetduinoPlus2Faults(t *testing.T) {
	t.Parallel()
	needQEMU(t)
	m := compileModel(t, exampleModel, target.CortexM4)
	b := Boards["netduinoplus2"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{}), "pty")
	r := &resetOnWrite{t: t, e: e}
	// Generous deadlines: QEMU on a loaded 2-core machine can be slow to reboot; none of these cases waits for a deadline to pass.
	c, err := Open(e.Target, Options{Progress: r, HelloTimeout: 30 * time.Second, ReplyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// Noise: stray bytes, a bad escape, a frame far longer than the board's buffer.
	noise := []byte{0x01, 0x02, frameEnd, 0x33, frameEsc, 0x00, frameEnd}
	noise = append(noise, bytes.Repeat([]byte{0x5A}, 5000)...)
	noise = append(noise, frameEnd)
	if _, err := c.rw.Write(noise); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hello(ctx); err != nil {
		t.Fatalf("hello after noise: %v", err)
	}
	in := exampleInputs(t, m.g)
	if _, err := c.Run(ctx, m.g, m.lib, in[:1], false); err != nil {
		t.Fatalf("run after noise: %v", err)
	}
	other := m.lib
	other.SHA256 = strings.Repeat("0", 64)
	if _, err := c.Run(ctx, m.g, other, in[:1], false); err == nil || !strings.Contains(err.Error(), "the board runs model \"mnist_bnn\"") {
		t.Fatalf("another model: %v", err)
	}
	var many [][][]float32
	for len(many) < 64 {
		many = append(many, in...)
	}
	start := time.Now()
	_, err = c.Run(ctx, m.g, m.lib, many, false)
	if err == nil || !strings.Contains(err.Error(), "the board reset while running it") {
		t.Fatalf("reset mid-run: %v", err)
	}
	t.Logf("reset mid-run reported after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if _, err := c.Run(ctx, m.g, m.lib, in[:2], false); err != nil {
		t.Fatalf("run after the reset: %v", err)
	}
}

// TestMPS3AN547 runs the Cortex-M55 build through the CMSDK UART's secure
// alias, against --target cortex-m55.
func TestMPS3AN547(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: skipped")
	}
	needQEMU(t)
	m := compileModel(t, exampleModel, target.CortexM55)
	b := Boards["mps3-an547"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{}), "pty")
	c, err := Open(e.Target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkAgainst(t, target.CortexM55, m, e, c, exampleInputs(t, m.g)[:3], false)
}

// TestMicrobit runs the Cortex-M0 build through the nRF51 UART of the
// micro:bit (16 KB of RAM), against --target cortex-m0; the core has no
// cycle counter.
func TestMicrobit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: skipped")
	}
	needQEMU(t)
	m := compileModel(t, exampleModel, target.CortexM0)
	b := Boards["microbit"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{}), "pty")
	c, err := Open(e.Target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.Hello(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.CPU != string(target.CortexM0) || h.Cycles {
		t.Errorf("hello: cpu %q, cycle counter %v; want cortex-m0 without one", h.CPU, h.Cycles)
	}
	checkAgainst(t, target.CortexM0, m, e, c, exampleInputs(t, m.g)[:3], false)
}

// TestFirmwareCMake builds the written firmware with its CMakeLists.txt and
// wants the image dqnn firmware builds: same sections, same sizes.
func TestFirmwareCMake(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: skipped")
	}
	needQEMU(t)
	testenv.NeedCmd(t, "cmake")
	m := compileModel(t, exampleModel, target.CortexM4)
	b := Boards["netduinoplus2"]
	elf := buildFirmware(t, m, b, FirmwareOptions{Trace: true})
	dir := filepath.Dir(elf)
	build := filepath.Join(t.TempDir(), "build")
	for _, args := range [][]string{{"-S", dir, "-B", build}, {"--build", build}} {
		if out, err := exec.Command("cmake", args...).CombinedOutput(); err != nil {
			t.Fatalf("cmake %v: %v\n%s", args, err, out)
		}
	}
	size := func(p string) string {
		out, err := exec.Command("arm-none-eabi-size", "-A", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(out), "\n")[1:] { // drop the file name line
			if f := strings.Fields(l); len(f) == 3 && !strings.HasPrefix(f[0], ".debug") && f[0] != ".comment" {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if got, want := size(filepath.Join(build, "firmware.elf")), size(elf); want == "" || got != want {
		t.Errorf("CMake image differs from dqnn firmware's:\n%s\nwant:\n%s", got, want)
	}
}

// TestSharedModelsNetduinoPlus2 validates real QKeras models kept outside
// the repository (a .json with its weights file, and MLPerf Tiny RN07)
// through the emulated STM32F405 USART1 on a pty, per layer, with
// validate.Run as dqnn validate --target serial: calls it, and wants the
// verdict of --target cortex-m4.
func TestSharedModelsNetduinoPlus2(t *testing.T) {
	t.Parallel()
	needQEMU(t)
	dir := sharedmodels.Require(t, "qkeras")
	if testing.Short() {
		t.Skip("short: QEMU runs skipped")
	}
	for _, tc := range []struct{ model, weights string }{
		{"example-models/qkeras_mnist_cnn.json", "example-models/qkeras_mnist_cnn_weights.h5"},
		{"mlperf-tiny-v0.7/RN07_model_best.h5", ""},
	} {
		t.Run(filepath.Base(tc.model), func(t *testing.T) {
			t.Parallel()
			path, weights := filepath.Join(dir, tc.model), ""
			if tc.weights != "" {
				weights = filepath.Join(dir, tc.weights)
			}
			m := compileWeights(t, path, weights, target.CortexM4)
			b := Boards["netduinoplus2"]
			e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{Trace: true}), "pty")
			c, err := Open(e.Target, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Hello(context.Background()); err != nil {
				t.Fatal(err)
			}
			opt := validate.Options{Model: path, Samples: 4, Seed: 7, CheckOptions: validate.CheckOptions{Device: c, PerLayer: true}}
			got, err := validate.Run(context.Background(), m.g, opt)
			e.Close() // as in checkAgainst: no idle polling during the reference run
			if err != nil {
				t.Fatal(err)
			}
			opt.Device, opt.Target = nil, target.CortexM4
			want, err := validate.Run(context.Background(), m.g, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Pass || got.Pass != want.Pass || fmt.Sprint(got.CodeOutputs) != fmt.Sprint(want.CodeOutputs) {
				var b strings.Builder
				got.WriteText(&b)
				t.Fatalf("serial PASS %v, cortex-m4 PASS %v, same outputs %v:\n%s", got.Pass, want.Pass, fmt.Sprint(got.CodeOutputs) == fmt.Sprint(want.CodeOutputs), b.String())
			}
			t.Logf("%s over %s: %d layers bit for bit, PASS as on cortex-m4", tc.model, c, len(got.Layers))
		})
	}
}

// TestMultiIOMPS2AN386 runs a model of two inputs and two outputs (the
// firmware's NAME_run(ins, outs) form) per layer over TCP.
func TestMultiIOMPS2AN386(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: skipped")
	}
	needQEMU(t)
	m := compileModel(t, "../testdata/models/k_multi_io.h5", target.CortexM4)
	if len(m.g.Inputs) < 2 || len(m.g.Outputs) < 2 {
		t.Fatalf("fixture has %d inputs, %d outputs; want several", len(m.g.Inputs), len(m.g.Outputs))
	}
	b := Boards["mps2-an386"]
	e := boot(t, b, buildFirmware(t, m, b, FirmwareOptions{Trace: true}), "tcp")
	c, err := Open(e.Target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, _, err := validate.Inputs(m.g, nil, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, target.CortexM4, m, e, c, in, true)
}
