package main

import (
	"strings"
	"testing"
	"time"
)

// TestTracker feeds a run of two packages (one passes, one fails) and a
// foreign line, and checks the per-package lines, the periodic status and
// the summary.
func TestTracker(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var out strings.Builder
	tr := newTracker(&out, 3, t0)
	tr.trim = "m/"
	lines := []string{
		`{"Action":"start","Package":"a"}`,
		`{"Action":"start","Package":"m/b"}`,
		`{"Action":"run","Package":"a","Test":"TestA"}`,
		`{"Action":"output","Package":"a","Test":"TestA","Output":"a's chatter\n"}`,
		`{"Action":"output","Package":"m/b","Test":"TestB","Output":"    b_test.go:9: wrong answer\n"}`,
		`# vet says something`,
		`{"Action":"pass","Package":"a","Test":"TestA","Elapsed":1.5}`,
		`{"Action":"pass","Package":"a","Elapsed":2}`,
	}
	for _, l := range lines {
		tr.handle([]byte(l), t0.Add(time.Second))
	}
	got := tr.status(t0.Add(40 * time.Second))
	want := "go test: 40 s, 1 of 3 packages done, running: b (39 s)"
	if got != want {
		t.Errorf("status:\n got %q\nwant %q", got, want)
	}
	tr.handle([]byte(`{"Action":"fail","Package":"m/b","Test":"TestB","Elapsed":3}`), t0.Add(45*time.Second))
	tr.handle([]byte(`{"Action":"fail","Package":"m/b","Elapsed":44}`), t0.Add(45*time.Second))
	s := out.String()
	for _, w := range []string{
		"# vet says something\n",
		"ok  \ta\t2.0s\t(1 of 3 packages done)\n",
		"    b_test.go:9: wrong answer\nFAIL\tm/b\t44.0s\n",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("output lacks %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "a's chatter") {
		t.Errorf("a passing package's output was printed:\n%s", s)
	}
	sum := tr.summary(t0.Add(50 * time.Second))
	if want := "go test: 2 of 3 packages in 50 s; slowest: m/b 44.0s, a 2.0s\nFAILED: m/b\n"; sum != want {
		t.Errorf("summary:\n got %q\nwant %q", sum, want)
	}
	if got := tr.status(t0.Add(60 * time.Second)); !strings.Contains(got, "2 of 3 packages done, waiting") {
		t.Errorf("status with nothing running: %q", got)
	}
}

// TestBuildFailure: a package that does not build is reported with the
// compiler's output and counts as a failure.
func TestBuildFailure(t *testing.T) {
	var out strings.Builder
	tr := newTracker(&out, 0, time.Now())
	tr.handle([]byte(`{"ImportPath":"c [c.test]","Action":"build-output","Output":"c/x.go:3:1: syntax error\n"}`), time.Now())
	tr.handle([]byte(`{"ImportPath":"c [c.test]","Action":"build-fail"}`), time.Now())
	if !strings.Contains(out.String(), "BUILD FAILED c [c.test]\nc/x.go:3:1: syntax error\n") {
		t.Errorf("output: %q", out.String())
	}
	if len(tr.failed) != 1 {
		t.Errorf("failed = %q, want one", tr.failed)
	}
}
