package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
)

// TestAnalyzeTargetStack: with --target the stack is part of ram (total),
// in the text and in --json; a target that is not a Cortex-M is refused.
func TestAnalyzeTargetStack(t *testing.T) {
	testenv.Need(t, "arm-none-eabi-gcc", target.Available(target.CortexM0))
	var out, errb bytes.Buffer
	if rc := run([]string{"analyze", "--json", "--target", "cortex-m0"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var r struct {
		Activations int      `json:"activations_rw_bytes"`
		In          int      `json:"input_bytes"`
		Out         int      `json:"output_bytes"`
		RAM         int      `json:"ram_total_bytes"`
		Stack       int      `json:"stack_bytes"`
		StackTarget string   `json:"stack_target"`
		StackPath   []string `json:"stack_path"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Stack <= 0 || r.RAM != r.Activations+r.In+r.Out+r.Stack || r.StackTarget != "cortex-m0" || len(r.StackPath) < 2 || r.StackPath[0] != "mnist_bnn_run" {
		t.Errorf("unexpected stack figures: %+v", r)
	}
	if r.RAM > 5120 {
		t.Errorf("example ram (total) on cortex-m0 = %d B, want <= 5,120 (issue #15)", r.RAM)
	}
	out.Reset()
	if rc := run([]string{"analyze", "--target", "m0"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "stack on cortex-m0 (mnist_bnn_run > ") {
		t.Errorf("text: rc %d\n%s", rc, out.String())
	}
	errb.Reset()
	if rc := run([]string{"analyze", "--target", "host"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "Cortex-M") {
		t.Errorf("--target host: rc %d, %q", rc, errb.String())
	}
}
