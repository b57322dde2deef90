package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeExample runs `dqnn analyze --json` on the bundled example (found
// from this package's directory) and checks the figures the compiler
// promises against the reference tool's (weights 14,496 B, activations
// 86,528 B).
func TestAnalyzeExample(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"analyze", "--json"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var r struct {
		Params      int64 `json:"params"`
		MACC        int64 `json:"macc"`
		Weights     int   `json:"weights_ro_bytes"`
		Activations int   `json:"activations_rw_bytes"`
		RAM         int   `json:"ram_total_bytes"`
		Layers      []struct {
			CID    int    `json:"c_id"`
			OpType string `json:"op_type"`
		} `json:"layers"`
		OpTypes   map[string]int64 `json:"op_types"`
		Fallbacks []any            `json:"fallbacks"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Params != 93556 || r.Weights > 12800 || r.Activations > 2048 || r.RAM != r.Activations+3136+40 || len(r.Layers) == 0 || r.OpTypes["sxor_s1_s1"] == 0 || r.Fallbacks == nil {
		t.Errorf("unexpected report: %+v", r)
	}
	out.Reset()
	if rc := run([]string{"analyze", "-v"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, s := range []string{"params #", "weights (ro)", "Number of operation types", "fallbacks: none", "arena "} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
}

func TestAnalyzeErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"analyze", "no/such/model.h5"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "model.h5") {
		t.Errorf("missing model: rc %d, %q", rc, errb.String())
	}
	// Outside the module, without MODEL: a clear error.
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	errb.Reset()
	if rc := run([]string{"analyze"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "bundled example") {
		t.Errorf("no example: rc %d, %q", rc, errb.String())
	}
	// The reference kernel set shows fallbacks with hints.
	os.Chdir(wd)
	out.Reset()
	if rc := run([]string{"analyze", "--reference-kernels", filepath.Join("..", "..", "examples", "mnist_bnn", "mnist_bnn.h5")}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "hint: keep this layer in f32") {
		t.Errorf("reference kernels: rc %d\n%s", rc, out.String())
	}
}

// TestPreAnalyze runs analyze on an architecture .json without its weights
// file: the report carries the banner (text) or weights_absent (JSON) and
// the figures of the same model analyzed with its weights; generate,
// validate and bench keep refusing it with the missing-weights message.
func TestPreAnalyze(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "models", "qk_json_dense.json")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(t.TempDir(), "arch.json")
	if err := os.WriteFile(arch, b, 0o644); err != nil {
		t.Fatal(err)
	}
	report := func(args ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		if rc := run(append([]string{"analyze", "--json"}, args...), &out, &errb); rc != 0 {
			t.Fatalf("analyze %v: rc %d: %s", args, rc, errb.String())
		}
		var r map[string]any
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	with, without := report(src), report(arch)
	if with["weights_absent"] != false || without["weights_absent"] != true {
		t.Errorf("weights_absent: with weights %v, without %v", with["weights_absent"], without["weights_absent"])
	}
	for _, k := range []string{"params", "macc", "activations_rw_bytes", "ram_total_bytes", "layers", "op_types", "fallbacks"} {
		x, _ := json.Marshal(with[k])
		y, _ := json.Marshal(without[k])
		if string(x) != string(y) {
			t.Errorf("%s: with weights %s, without %s", k, x, y)
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"analyze", arch}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "PRE-ANALYZE: weights were not given") || !strings.Contains(out.String(), "depends on weights:") {
		t.Errorf("text pre-analyze: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	for _, cmd := range [][]string{{"generate", arch, "-o", t.TempDir()}, {"validate", arch}, {"bench", arch, "--target", "cortex-m4"}} {
		out.Reset()
		errb.Reset()
		if rc := run(cmd, &out, &errb); rc == 0 || !strings.Contains(errb.String(), "no weights file: looked for arch_weights.h5 and arch.h5") {
			t.Errorf("%s without weights: rc %d, %q", cmd[0], rc, errb.String())
		}
	}
}

// TestPreAnalyzeUnsupportedLayer runs inspect and analyze on an
// architecture with a layer dqnn cannot compile: both show it (inspect with
// the reason, analyze as a "not supported" row) and generate refuses.
func TestPreAnalyzeUnsupportedLayer(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "sep.json")
	const cfg = `{"class_name": "Sequential", "config": {"name": "sep", "layers": [
 {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 3]}},
 {"class_name": "LocallyConnected2D", "config": {"name": "sep1", "filters": 4, "kernel_size": 3}},
 {"class_name": "Flatten", "config": {"name": "f"}},
 {"class_name": "QDense", "config": {"name": "d", "units": 2, "kernel_quantizer": "binary"}}]}}`
	if err := os.WriteFile(arch, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"inspect", arch}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "NOT SUPPORTED: layer class LocallyConnected2D") {
		t.Errorf("inspect: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	out.Reset()
	if rc := run([]string{"analyze", arch}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "sep1 (not supported: LocallyConnected2D)") || !strings.Contains(out.String(), "1 layer(s) are not supported") {
		t.Errorf("analyze: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	// The dense layer after it is analyzed at Keras's shape: 6·6·4 = 144 inputs.
	if !strings.Contains(out.String(), "d (dense)") || !strings.Contains(out.String(), " 290 (") {
		t.Errorf("analyze: the dense layer is missing or miscounted (want 144·2 + 2 = 290 ops)\n%s", out.String())
	}
	errb.Reset()
	if rc := run([]string{"generate", arch, "-o", t.TempDir()}, &out, &errb); rc == 0 {
		t.Errorf("generate accepted an architecture without weights")
	}
}
