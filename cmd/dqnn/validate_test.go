package main

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
)

const validateExample = "../../examples/mnist_bnn/mnist_bnn.h5"

func TestValidateCommand(t *testing.T) {
	if _, err := os.Stat(validateExample); err != nil {
		t.Fatal(err) // in the repository
	}
	testenv.Need(t, "a runner for "+string(target.Host), target.Available(target.Host))
	var out, errb bytes.Buffer
	if rc := run([]string{"validate", validateExample, "--samples", "2", "--per-layer"}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d\n%s%s", rc, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "PASS") || !strings.Contains(out.String(), "per layer") {
		t.Errorf("output lacks the verdict or the per-layer table:\n%s", out.String())
	}
	// An impossible tolerance makes the f32 softmax output fail: exit status 1.
	out.Reset()
	if rc := run([]string{"validate", validateExample, "--samples", "2", "--min-cos", "1.5"}, &out, &errb); rc != 1 || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("--min-cos 1.5: exit %d, want 1 with FAIL\n%s", rc, out.String())
	}
	if rc := run([]string{"validate", validateExample, "--target", "cortex-m99"}, &out, &errb); rc != 2 {
		t.Errorf("bad --target: exit %d, want 2", rc)
	}
	if rc := run([]string{"validate", "no-such-model.h5"}, &out, &errb); rc != 1 {
		t.Errorf("missing model: exit %d, want 1", rc)
	}
}

func TestBenchCommand(t *testing.T) {
	if _, err := os.Stat(validateExample); err != nil {
		t.Fatal(err) // in the repository
	}
	testenv.Need(t, "a runner for "+string(target.CortexM4), target.Available(target.CortexM4))
	var out, errb bytes.Buffer
	if rc := run([]string{"bench", validateExample, "--target", "cortex-m4", "--json"}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d\n%s", rc, errb.String())
	}
	for _, want := range []string{`"total_instructions"`, `"layers"`, `"arena_bytes"`, "proxy for cycles"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, out.String())
		}
	}
	if rc := run([]string{"bench", validateExample, "--target", "host"}, &out, &errb); rc != 2 {
		t.Errorf("bench on host: exit %d, want 2", rc)
	}
}

// TestValidateFlags checks the command line of --cflags (given, even
// empty, it replaces dqnn's flags; absent, dqnn's stay), --cc and
// --reference, through --json.
func TestValidateFlags(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "a runner for host", target.Available(target.Host))
	for _, c := range []struct {
		args       []string
		want, nowt []string
	}{
		{nil, []string{"-O2", "-ffp-contract=off", "-std=c99"}, nil},
		{[]string{"--cflags", "-O1 -std=gnu11"}, []string{"-O1", "-std=gnu11"}, []string{"-O2", "-ffp-contract=off", "-std=c99"}},
		{[]string{"--cflags="}, nil, []string{"-O2", "-ffp-contract=off", "-std=c99"}},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"validate", validateExample, "--inputs", exampleInputs, "--reference", exampleExpected, "--json", "--cc", "gcc"}, c.args...)
		if rc := run(args, &out, &errb); rc != 0 {
			t.Fatalf("%q: exit %d\n%s%s", c.args, rc, out.String(), errb.String())
		}
		var rep struct {
			Build     target.Command `json:"build"`
			Reference []struct {
				Pass bool `json:"pass"`
			} `json:"reference"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Build.CC != "gcc" || len(rep.Reference) != 1 || !rep.Reference[0].Pass {
			t.Errorf("%q: build %+v, reference %+v", c.args, rep.Build, rep.Reference)
		}
		for _, f := range c.want {
			if !slices.Contains(rep.Build.CFlags, f) {
				t.Errorf("%q: %s missing from %v", c.args, f, rep.Build.CFlags)
			}
		}
		for _, f := range c.nowt {
			if slices.Contains(rep.Build.CFlags, f) {
				t.Errorf("%q: %s still in %v", c.args, f, rep.Build.CFlags)
			}
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"validate", validateExample, "--inputs", exampleInputs, "--reference", exampleInputs}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "does not match output") {
		t.Errorf("inputs given as reference: exit %d, want 1 with a shape error\n%s", rc, errb.String())
	}
}
