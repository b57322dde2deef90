// Command testprogress reads `go test -json` on stdin and prints what a
// person watching the run needs (issue #18): each package's result as it
// ends (with its whole output when it failed), a line at least every
// -every saying how many of how many packages are done and which are
// running, and at the end the failures and the slowest packages. It exits
// 1 when a package or build failed, so scripts/test.sh can pipe into it.
//
//	go test -json ./... 2>&1 | go run ./internal/testprogress -total N -trim MODULE/
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// event is the part of test2json's output this command reads.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string // build-output and build-fail events
}

// run is the state of one package's test run.
type run struct {
	start   time.Time
	output  strings.Builder
	result  string // pass, fail, skip; empty while running
	elapsed float64
}

type tracker struct {
	mu       sync.Mutex
	out      io.Writer
	total    int
	start    time.Time
	pkgs     map[string]*run
	order    []string // packages in the order they started
	failed   []string
	buildErr map[string]*strings.Builder
	trim     string // prefix dropped from package names in the progress line
}

func newTracker(out io.Writer, total int, now time.Time) *tracker {
	return &tracker{out: out, total: total, start: now, pkgs: map[string]*run{}, buildErr: map[string]*strings.Builder{}}
}

func (t *tracker) pkg(name string, now time.Time) *run {
	r := t.pkgs[name]
	if r == nil {
		r = &run{start: now}
		t.pkgs[name] = r
		t.order = append(t.order, name)
	}
	return r
}

// handle takes one line of go test's output.
func (t *tracker) handle(line []byte, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var e event
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
		// Not an event (go vet or the go command itself): pass it on.
		fmt.Fprintf(t.out, "%s\n", line)
		return
	}
	switch e.Action {
	case "build-output":
		b := t.buildErr[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			t.buildErr[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	case "build-fail":
		fmt.Fprintf(t.out, "BUILD FAILED %s\n%s", e.ImportPath, t.buildErr[e.ImportPath])
		t.failed = append(t.failed, e.ImportPath+" (build)")
		return
	}
	if e.Package == "" {
		return
	}
	r := t.pkg(e.Package, now)
	if e.Action == "output" {
		r.output.WriteString(e.Output)
		return
	}
	if e.Test != "" {
		return
	}
	switch e.Action {
	case "pass", "fail", "skip":
		r.result, r.elapsed = e.Action, e.Elapsed
		switch e.Action {
		case "fail":
			t.failed = append(t.failed, e.Package)
			fmt.Fprintf(t.out, "%s", r.output.String())
			fmt.Fprintf(t.out, "FAIL\t%s\t%.1fs\n", e.Package, e.Elapsed)
		case "skip":
			fmt.Fprintf(t.out, "?   \t%s\t[no test files]\n", e.Package)
		default:
			fmt.Fprintf(t.out, "ok  \t%s\t%.1fs\t(%d of %s packages done)\n", e.Package, e.Elapsed, t.done(), t.totalText())
		}
		r.output.Reset()
	}
}

func (t *tracker) done() int {
	n := 0
	for _, r := range t.pkgs {
		if r.result != "" {
			n++
		}
	}
	return n
}

func (t *tracker) totalText() string {
	if t.total > 0 {
		return fmt.Sprint(t.total)
	}
	return "?"
}

// status is the periodic line: done of total, and what runs for how long.
func (t *tracker) status(now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var running []string
	for _, name := range t.order {
		if r := t.pkgs[name]; r.result == "" {
			running = append(running, fmt.Sprintf("%s (%.0f s)", strings.TrimPrefix(name, t.trim), now.Sub(r.start).Seconds()))
		}
	}
	what := "waiting for the next package (building)"
	if len(running) > 0 {
		what = "running: " + strings.Join(running, ", ")
	}
	return fmt.Sprintf("go test: %.0f s, %d of %s packages done, %s", now.Sub(t.start).Seconds(), t.done(), t.totalText(), what)
}

// summary is printed at the end: failures, then the slowest packages.
func (t *tracker) summary(now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	names := slices.Clone(t.order)
	slices.SortFunc(names, func(a, c string) int {
		ea, ec := t.pkgs[a].elapsed, t.pkgs[c].elapsed
		switch {
		case ea > ec:
			return -1
		case ea < ec:
			return 1
		}
		return strings.Compare(a, c)
	})
	fmt.Fprintf(&b, "go test: %d of %s packages in %.0f s; slowest:", t.done(), t.totalText(), now.Sub(t.start).Seconds())
	for _, n := range names[:min(5, len(names))] {
		fmt.Fprintf(&b, " %s %.1fs,", n, t.pkgs[n].elapsed)
	}
	s := strings.TrimSuffix(b.String(), ",") + "\n"
	if len(t.failed) > 0 {
		s += "FAILED: " + strings.Join(t.failed, ", ") + "\n"
	}
	return s
}

func main() {
	total := flag.Int("total", 0, "number of packages go test runs (for \"N of M\"; 0: unknown)")
	every := flag.Duration("every", 20*time.Second, "interval of the progress line")
	trim := flag.String("trim", "", "prefix to drop from package names in the progress line, e.g. the module path and a slash")
	flag.Parse()
	t := newTracker(os.Stdout, *total, time.Now())
	t.trim = *trim
	stop := make(chan struct{})
	go func() {
		tk := time.NewTicker(*every)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tk.C:
				fmt.Fprintln(os.Stdout, t.status(now))
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		t.handle(sc.Bytes(), time.Now())
	}
	close(stop)
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(2)
	}
	fmt.Print(t.summary(time.Now()))
	if len(t.failed) > 0 {
		os.Exit(1)
	}
}
