package validate

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes/passestest"
	"github.com/dqnn/dqnn/target"
)

const exampleInputs, exampleExpected = "../examples/mnist_bnn/samples.inputs.npy", "../examples/mnist_bnn/samples.expected.npy"

// TestReference compares the example's C outputs with the numpy oracle's
// outputs (testdata/models/README.md), as a user compares with
// model.predict: the right outputs agree, outputs of the wrong samples make
// the run fail while the interpreter comparison still passes, and
// references of the wrong shape or too few samples are refused with the
// reason.
func TestReference(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "a runner for host", target.Available(target.Host))
	want, shape, err := ReadNPY(exampleExpected)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Sample s gets sample s+1's outputs: plausible softmax rows, wrong ones.
	rotated := append(append([]float32(nil), want[10:]...), want[:10]...)
	wrong := filepath.Join(dir, "wrong.npy")
	if err := WriteNPY(wrong, rotated, shape); err != nil {
		t.Fatal(err)
	}
	run := func(ref string) (*Report, error) {
		return loadAndRun(Options{Model: example, Inputs: []string{exampleInputs}, Reference: []string{ref}, CheckOptions: CheckOptions{Target: target.Host}}, "")
	}
	rep, err := run(exampleExpected)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	if !rep.Pass || len(rep.Reference) != 1 || !rep.Reference[0].Pass || !strings.Contains(b.String(), "C vs your Keras outputs") {
		t.Fatalf("the oracle's outputs do not agree:\n%s", b.String())
	}
	t.Logf("\n%s", b.String())
	rep, err = run(wrong)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || !rep.Outputs[0].Pass || rep.Reference[0].Pass || len(rep.Reference[0].Failures) == 0 {
		b.Reset()
		rep.WriteText(&b)
		t.Fatalf("a wrong reference passed (or broke the interpreter comparison):\n%s", b.String())
	}
	for _, c := range []struct {
		data  []float32
		shape []int
		err   string
	}{
		{want[:72], []int{8, 9}, "does not match output"},
		{want[:40], []int{4, 10}, "4 samples"},
	} {
		p := filepath.Join(dir, "bad.npy")
		if err := WriteNPY(p, c.data, c.shape); err != nil {
			t.Fatal(err)
		}
		if _, err := run(p); err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
			t.Errorf("reference of shape %v: error %v, want one naming %s and saying %q", c.shape, err, p, c.err)
		}
	}
	if _, err := loadAndRun(Options{Model: example, Inputs: []string{exampleInputs}, Reference: []string{exampleExpected, exampleExpected}}, ""); err == nil || !strings.Contains(err.Error(), "1 outputs, 2 .npy files") {
		t.Errorf("two references for one output: %v", err)
	}
	// Two outputs: one file each, in output order.
	const multi = "../testdata/models/k_multi_io"
	in := []string{multi + ".inputs.0.npy", multi + ".inputs.1.npy"}
	ref := []string{multi + ".expected.0.npy", multi + ".expected.1.npy"}
	rep, err = loadAndRun(Options{Model: multi + ".h5", Inputs: in, Reference: ref}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || len(rep.Reference) != 2 {
		t.Errorf("k_multi_io against the oracle: pass %v, %d reference outputs", rep.Pass, len(rep.Reference))
	}
	if _, err := loadAndRun(Options{Model: multi + ".h5", Inputs: in, Reference: []string{ref[1], ref[0]}}, ""); err == nil || !strings.Contains(err.Error(), "output 0") {
		t.Errorf("references in the wrong order: %v", err)
	}
}

// TestUserFlags validates the example built with the compiler's default
// flags (no -O2, no -ffp-contract=off) on the host and with
// arm-none-eabi-gcc -O2 and its default contraction on Cortex-M4, and checks
// that the report says which compiler and flags were used.
func TestUserFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cpu   target.CPU
		flags []string
	}{{target.Host, nil}, {target.CortexM4, []string{"-O2"}}} {
		t.Run(string(c.cpu), func(t *testing.T) {
			testenv.Need(t, "a runner for "+string(c.cpu), target.Available(c.cpu))
			rep, err := loadAndRun(Options{Model: example, Inputs: []string{exampleInputs},
				CheckOptions: CheckOptions{Target: c.cpu, UseUserCFlags: true, UserCFlags: c.flags}}, "")
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				var b strings.Builder
				rep.WriteText(&b)
				t.Fatalf("fails under the user's flags:\n%s", b.String())
			}
			if slices.Contains(rep.Build.CFlags, "-ffp-contract=off") || slices.Contains(rep.Build.CFlags, "-std=c99") || (c.flags == nil) == slices.Contains(rep.Build.CFlags, "-O2") {
				t.Errorf("report says the build used %s", rep.Build)
			}
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Build target.Command `json:"build"`
			}
			if err := json.Unmarshal(js, &back); err != nil || back.Build.CC == "" || !slices.Equal(back.Build.CFlags, rep.Build.CFlags) {
				t.Errorf("--json lacks the build command: %s", js)
			}
		})
	}
}

// TestStreamBeyondFlash validates more samples than the Cortex-M4 image's
// 4 MB flash could hold if they were linked in (the runner streams them
// over semihosting), on a synthetic 62x62x3 model whose inference is cheap.
func TestStreamBeyondFlash(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "a runner for cortex-m4", target.Available(target.CortexM4))
	const samples, flash = 100, 4 << 20
	b := passestest.New("wide", 7, 62, 62, 3)
	b.MaxPool("pool", 31)
	b.Flatten("flat")
	b.Dense("dense", 4, dtype.S8, true, "")
	g := b.Done()
	inputs, _, err := Inputs(g, nil, samples, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewStreamRunner(g, "wide", inputs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Inputs != nil {
		t.Error("NewStreamRunner generated the samples as C too")
	}
	if len(r.Stream) <= flash {
		t.Fatalf("the test's samples take %d bytes, not more than the %d B flash", len(r.Stream), flash)
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "wide", Target: string(target.CortexM4)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validating %d samples (%d bytes of inputs) on cortex-m4", samples, len(r.Stream))
	rep, err := Check(context.Background(), g, Library{Name: "wide", Files: res.Files, Lowered: res.Graph}, inputs, CheckOptions{Target: target.CortexM4})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Samples != samples || len(rep.CodeOutputs) != samples {
		var sb strings.Builder
		rep.WriteText(&sb)
		t.Fatalf("%d samples on cortex-m4:\n%s", rep.Samples, sb.String())
	}
	t.Logf("build %v, run %v", rep.BuildTime, rep.RunTime)
}
