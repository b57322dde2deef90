package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runWithin runs the command line and fails the test if it hangs.
func runWithin(t *testing.T, args ...string) (int, string) {
	t.Helper()
	type result struct {
		code int
		errs string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		done <- result{code, errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.errs
	case <-time.After(20 * time.Second):
		t.Fatalf("dqnn %s hangs", strings.Join(args, " "))
		return 0, ""
	}
}

// TestLimitFlags checks that special files are refused by every command
// that reads models or inputs, and that the limit flags reach the readers.
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "x.npy")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	const model = "../../examples/mnist_bnn/mnist_bnn.h5"
	json := "../../testdata/models/qk_json_dense.json"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "/dev/zero"}, "/dev/zero is a character device"},
		{[]string{"analyze", fifo}, fifo + " is a named pipe (FIFO)"},
		{[]string{"generate", "/dev/urandom", "-o", t.TempDir()}, "/dev/urandom is a character device"},
		{[]string{"inspect", json, "--weights", "/dev/zero"}, "/dev/zero is a character device"},
		{[]string{"validate", model, "--inputs", fifo}, fifo + " is a named pipe (FIFO)"},
		{[]string{"inspect", "--max-file-size", "64K", model}, "over the limit of 64 KiB (65536 bytes); if the model is legitimately this large, raise the limit with --max-file-size"},
		{[]string{"inspect", "--max-config-size", "1K", json}, "raise the limit with --max-config-size"},
		{[]string{"analyze", "--max-unpacked-size", "1K", "../../testdata/models/qk_keras3_zip.keras"}, "raise the limit with --max-unpacked-size"},
		{[]string{"inspect", "--max-file-size", "lots", model}, `invalid size "lots"`},
	} {
		code, errs := runWithin(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("dqnn %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}
}
