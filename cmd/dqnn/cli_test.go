package main

import (
	"bytes"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// TestHelpExitsZero: help asked for is not a usage error, for dqnn and for
// every command; the flag list spells flags as the usage lines do.
func TestHelpExitsZero(t *testing.T) {
	if rc, _, _ := runCLI("--help"); rc != 0 {
		t.Errorf("dqnn --help: exit %d, want 0", rc)
	}
	for name := range commands {
		for _, h := range []string{"--help", "-h"} {
			rc, _, errs := runCLI(name, h)
			if rc != 0 {
				t.Errorf("dqnn %s %s: exit %d, want 0", name, h, rc)
			}
			if !strings.Contains(errs, "usage: dqnn "+name) || !strings.Contains(errs, "\nflags:\n") {
				t.Errorf("dqnn %s %s: no usage and flag list:\n%s", name, h, errs)
			}
			for _, l := range strings.Split(errs, "\n") {
				if strings.HasPrefix(l, "  -") && !strings.HasPrefix(l, "  --") && len(strings.Fields(l)[0]) > 2 {
					t.Errorf("dqnn %s: flag printed with one dash: %q", name, l)
				}
				if strings.HasSuffix(l, " ") {
					t.Errorf("dqnn %s: trailing space in %q", name, l)
				}
			}
		}
	}
	if rc, _, _ := runCLI(); rc != 2 {
		t.Errorf("dqnn without a command: exit %d, want 2", rc)
	}
}

func TestVersion(t *testing.T) {
	for _, a := range []string{"--version", "version"} {
		rc, out, _ := runCLI(a)
		if rc != 0 || !strings.HasPrefix(out, "dqnn ") {
			t.Errorf("dqnn %s: exit %d, output %q", a, rc, out)
		}
	}
}

// TestMissingArguments: a missing required argument is named, not just
// answered with the usage.
func TestMissingArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", exampleH5}, "missing -o DIR"},
		{[]string{"generate", "-o", t.TempDir()}, "missing MODEL"},
		{[]string{"validate"}, "missing MODEL"},
		{[]string{"validate", exampleH5, "--samples", "0"}, "--samples 0: give a positive number"},
		{[]string{"validate", exampleH5, "--samples", "-5"}, "--samples -5: give a positive number"},
		{[]string{"bench", "--models", exampleH5}, "dqnn bench --models"},
		{[]string{"bench", "--models", "--kernels"}, "dqnn bench --models"},
		{[]string{"bench", "--models", "--target", "tcp:127.0.0.1:1"}, "--kernels and --models run under QEMU only"},
	} {
		rc, _, errs := runCLI(c.args...)
		if rc != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("dqnn %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), rc, errs, c.want)
		}
	}
}

// TestTextHasNoTrailingSpaces: the text reports pad their columns but end
// no line with spaces.
func TestTextHasNoTrailingSpaces(t *testing.T) {
	for _, args := range [][]string{
		{"analyze", exampleH5},
		{"inspect", exampleH5},
		{"validate", exampleH5, "--samples", "1", "--per-layer"},
	} {
		rc, out, errs := runCLI(args...)
		if rc != 0 {
			t.Fatalf("dqnn %v: exit %d: %s", args, rc, errs)
		}
		for i, l := range strings.Split(out, "\n") {
			if strings.HasSuffix(l, " ") {
				t.Errorf("dqnn %s: line %d ends with a space: %q", args[0], i+1, l)
			}
		}
	}
}
