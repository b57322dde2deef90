package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.html")
	if rc, _, errs := runCLI("report", validateExample); rc != 2 || !strings.Contains(errs, "missing -o FILE") {
		t.Errorf("no -o: exit %d, %q", rc, errs)
	}
	if rc, _, errs := runCLI("report", validateExample, "-o", out, "--target", "host"); rc != 2 || !strings.Contains(errs, "want a Cortex-M core") {
		t.Errorf("--target host: exit %d, %q", rc, errs)
	}
	if rc, _, errs := runCLI("report", validateExample, "-o", out); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errs)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "dqnn report: mnist_bnn.h5") || strings.Count(string(page), `class="clayer`) != 6 {
		t.Errorf("page lacks its title or its six layer boxes")
	}
	if rc, _, errs := runCLI("report", validateExample, "-o", t.TempDir()); rc != 1 || !strings.Contains(errs, "not a regular file") {
		t.Errorf("-o a directory: exit %d, %q", rc, errs)
	}
}
