package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
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

// TestHelpNamesDefaultTarget: the default --target differs between
// commands (host for validate, cortex-m4 for generate and bench, none for
// analyze and report), so each command's help says its own.
func TestHelpNamesDefaultTarget(t *testing.T) {
	n := 0
	for name := range commands {
		_, _, errs := runCLI(name, "--help")
		lines := strings.Split(errs, "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) != "--target string" {
				continue
			}
			n++
			if i+1 >= len(lines) || !strings.Contains(lines[i+1], "(default") {
				t.Errorf("dqnn %s --help: --target does not name its default: %q", name, lines[min(i+1, len(lines)-1)])
			}
		}
	}
	if n < 5 {
		t.Errorf("%d commands list --target, want at least 5 (analyze, generate, validate, bench, report)", n)
	}
}

// TestParamCountsNamed: inspect (Keras's count_params()) and analyze (the
// reference tool's count) print different parameter counts for the same
// model, so each says which count it prints and points at the other.
func TestParamCountsNamed(t *testing.T) {
	_, out, _ := runCLI("inspect", exampleH5)
	if !strings.Contains(out, "93,790 parameters as Keras counts them") || !strings.Contains(out, `dqnn analyze's "params #"`) {
		t.Errorf("inspect does not say which parameter count it prints:\n%s", out)
	}
	rc, out, errs := runCLI("analyze", exampleH5)
	if rc != 0 {
		t.Fatalf("analyze: exit %d: %s", rc, errs)
	}
	if !strings.Contains(out, " params #             : 93,556 items (365.45 KiB; 2 per batch-norm channel as the reference tool counts, dqnn inspect gives Keras's count_params() with 4)\n") {
		t.Errorf("analyze does not say which parameter count it prints:\n%s", out)
	}
}

// TestBenchHelpListsSuite: bench --help names every shape and type pair of
// the kernel suite (it once listed three shapes and no s8×s1).
func TestBenchHelpListsSuite(t *testing.T) {
	_, _, errs := runCLI("bench", "--help")
	help := strings.Join(strings.Fields(errs), " ")
	for _, w := range []string{"dense 576->64", "conv 3x3 13x13x32->64 valid", "pointwise 13x13x32->64", "conv 3x3 32x32x3->32 valid",
		"s1×s1→s1", "s8×s8→s8", "f32×f32→f32", "f32×s1→f32", "s8×s1→s8"} {
		if !strings.Contains(help, w) {
			t.Errorf("bench --help lacks %q:\n%s", w, errs)
		}
	}
}

// TestBenchText: bench's table groups thousands as every other command
// does and ends no line with spaces; its rows carry analyze's c_id and
// layer names.
func TestBenchText(t *testing.T) {
	testenv.Need(t, "a runner for "+string(target.CortexM4), target.Available(target.CortexM4))
	rc, out, errs := runCLI("bench", exampleH5, "--target", "cortex-m4")
	if rc != 0 {
		t.Fatalf("bench: exit %d: %s", rc, errs)
	}
	ungrouped := regexp.MustCompile(`(^|[^0-9,.])[0-9]{4,}`)
	for i, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %d ends with a space: %q", i+1, l)
		}
		if m := ungrouped.FindString(l); m != "" {
			t.Errorf("line %d has a number without thousands separators (%q): %q", i+1, m, l)
		}
	}
	for _, row := range []string{"0            quant_conv2d", "1          quant_conv2d_1", "5              activation"} {
		if !strings.Contains(out, row) {
			t.Errorf("bench lacks the row %q (analyze's c_id and layer name):\n%s", row, out)
		}
	}
}
