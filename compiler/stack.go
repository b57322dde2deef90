package compiler

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dqnn/dqnn/target"
)

// Calls into routines the compiler does not see into are counted at a
// fixed bound: libgcc's run-time helpers (__aeabi_*: soft-float, division;
// assembly that pushes at most 6 registers and nests once: 32 B in
// arm-none-eabi-gcc 12.2's v6-M and v7-M libgcc) at RuntimeHelperStack,
// anything else (newlib's libm, memcpy, memset) at LibraryCallStack. dqnn
// bench's painted peak checks the bounds on real runs
// (bench.TestStackStaticBoundsPainted).
const (
	RuntimeHelperStack = 64
	LibraryCallStack   = 128
)

// StackUsage is the stack one call of NAME_run needs on a target, from
// the target compiler's own frame sizes (arm-none-eabi-gcc -fstack-usage)
// along the deepest chain of its call graph (-fcallgraph-info).
type StackUsage struct {
	Target string   `json:"target"`
	Bytes  int      `json:"bytes"`
	Path   []string `json:"path"`   // the deepest call chain, NAME_run first
	Method string   `json:"method"` // how Bytes was found
}

// stackFlags are the flags the library is analysed with: the ones dqnn
// validate and bench compile it with on that target.
func stackFlags(cpu target.CPU) []string {
	return append(append(append([]string(nil), target.BaseCFlags...), "-mthumb"), cpu.CFlags()...)
}

// Stack compiles the library res (as Compile returned it, for the C name
// prefix name) with cpu's compiler and returns the stack NAME_run needs.
// A recursive or indirect call, or a frame of dynamic size, is an error:
// no bound could be honest.
func Stack(ctx context.Context, res *Result, name string, cpu target.CPU) (*StackUsage, error) {
	if !cpu.IsCortexM() {
		return nil, fmt.Errorf("stack usage: target %s: needs a Cortex-M target (the stack is measured with that core's compiler)", cpu)
	}
	if err := target.Available(cpu); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dqnn-stack-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for n, b := range res.Files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return nil, err
		}
	}
	frames, calls, err := CallGraph(ctx, dir, cpu)
	if err != nil {
		return nil, err
	}
	root := name + "_run"
	if _, ok := frames[root]; !ok {
		return nil, fmt.Errorf("stack usage on %s: %s not found in the library", cpu, root)
	}
	n, path, err := Deepest(root, frames, calls)
	if err != nil {
		return nil, fmt.Errorf("stack usage on %s: %v", cpu, err)
	}
	return &StackUsage{Target: string(cpu), Bytes: n, Path: path,
		Method: fmt.Sprintf("static: arm-none-eabi-gcc -fstack-usage frames along the deepest call chain from %s; libgcc helpers (__aeabi_*) counted at %d B, other library routines (libm, memcpy) at %d B", root, RuntimeHelperStack, LibraryCallStack)}, nil
}

// CallGraph compiles every .c file in dir (which holds their headers) for
// cpu and returns each defined function's frame size in bytes and its
// callees (static functions are named "file.c:name").
func CallGraph(ctx context.Context, dir string, cpu target.CPU) (map[string]int, map[string][]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var srcs []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".c") {
			srcs = append(srcs, e.Name())
		}
	}
	sort.Strings(srcs)
	// The files compile in parallel, one compiler per CPU; the results are
	// merged in file order.
	type result struct {
		frames map[string]int
		calls  map[string][]string
		err    error
	}
	results := make([]result, len(srcs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := &results[i]
			r.frames, r.calls = map[string]int{}, map[string][]string{}
			r.err = fileCallGraph(ctx, dir, src, cpu, r.frames, r.calls)
		}()
	}
	wg.Wait()
	frames := map[string]int{}
	calls := map[string][]string{}
	for _, r := range results {
		if r.err != nil {
			return nil, nil, r.err
		}
		for fn, v := range r.frames {
			frames[fn] = v
		}
		for fn, cs := range r.calls {
			calls[fn] = append(calls[fn], cs...)
		}
	}
	return frames, calls, nil
}

// fileCallGraph compiles src (in dir) for cpu and adds its functions'
// frames and callees to frames and calls.
func fileCallGraph(ctx context.Context, dir, src string, cpu target.CPU, frames map[string]int, calls map[string][]string) error {
	obj := strings.TrimSuffix(src, ".c") + ".o"
	args := append(stackFlags(cpu), "-fcallgraph-info=su", "-c", src, "-o", obj)
	cmd := exec.CommandContext(ctx, "arm-none-eabi-gcc", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stack usage on %s: arm-none-eabi-gcc %s: %v\n%s", cpu, src, err, out.String())
	}
	ci, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(src, ".c")+".ci"))
	if err != nil {
		return fmt.Errorf("stack usage on %s: %s: no call graph: %v", cpu, src, err)
	}
	if err := parseCallGraph(ci, frames, calls); err != nil {
		return fmt.Errorf("stack usage on %s: %s: %v", cpu, src, err)
	}
	if err := nakedFrames(ctx, filepath.Join(dir, obj), frames); err != nil {
		return fmt.Errorf("stack usage on %s: %s: %v", cpu, src, err)
	}
	return nil
}

var (
	objFunc = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	objPush = regexp.MustCompile(`\t(?:push(?:\.w)?|stmdb(?:\.w)?\tsp!,)\t?\s*\{([^}]*)\}`)
	objSub  = regexp.MustCompile(`\tsub(?:\.w|w)?\tsp, (?:sp, )?#(\d+)`)
)

// nakedFrames sets the frame of every function GCC reports at 0 bytes
// from its code in obj: a naked function (hand-written assembly that
// pushes registers and reserves stack itself) has a frame GCC does not
// count. Every PUSH/STMDB SP! (4 bytes per register) and SUB SP, #n in
// the function's body is added, an upper bound for code that pushes once.
func nakedFrames(ctx context.Context, obj string, frames map[string]int) error {
	zero := map[string][]string{} // name in the object -> call graph titles
	for fn, v := range frames {
		if v == 0 {
			base := fn[strings.LastIndex(fn, ":")+1:]
			zero[base] = append(zero[base], fn)
		}
	}
	if len(zero) == 0 {
		return nil
	}
	out, err := exec.CommandContext(ctx, "arm-none-eabi-objdump", "-d", obj).Output()
	if err != nil {
		return fmt.Errorf("arm-none-eabi-objdump -d: %v", err)
	}
	cur := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := objFunc.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		titles, ok := zero[cur]
		if !ok {
			continue
		}
		n := 0
		if m := objPush.FindStringSubmatch(line); m != nil {
			n = 4 * (strings.Count(m[1], ",") + 1)
		} else if m := objSub.FindStringSubmatch(line); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		for _, t := range titles {
			frames[t] += n
		}
	}
	return nil
}

// Deepest returns the largest sum of frames along a call chain from fn
// and that chain; callees without a frame (library routines) count
// RuntimeHelperStack or LibraryCallStack. Recursion and indirect calls are
// errors.
func Deepest(fn string, frames map[string]int, calls map[string][]string) (int, []string, error) {
	return deepest(fn, frames, calls, map[string]bool{})
}

var (
	ciNode = regexp.MustCompile(`^node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?(?:\\n(\d+) bytes \(([a-z,]+)\))?"`)
	ciEdge = regexp.MustCompile(`^edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"`)
)

// parseCallGraph reads one GCC .ci file (VCG): the frame of every function
// defined in it and its calls. Functions declared only (callees defined
// elsewhere or in a library) carry no frame.
func parseCallGraph(ci []byte, frames map[string]int, calls map[string][]string) error {
	for _, line := range strings.Split(string(ci), "\n") {
		if m := ciNode.FindStringSubmatch(line); m != nil {
			if m[2] == "" {
				continue
			}
			if m[3] != "static" {
				return fmt.Errorf("%s has a stack frame of %s size (%s bytes): no static bound", m[1], m[3], m[2])
			}
			v, err := strconv.Atoi(m[2])
			if err != nil {
				return err
			}
			frames[m[1]] = v
		} else if m := ciEdge.FindStringSubmatch(line); m != nil {
			calls[m[1]] = append(calls[m[1]], m[2])
		} else if strings.HasPrefix(line, "edge:") {
			return fmt.Errorf("unreadable call graph line %q", line)
		}
	}
	return nil
}

// deepest returns the largest sum of frames along a call chain from fn.
func deepest(fn string, frames map[string]int, calls map[string][]string, onPath map[string]bool) (int, []string, error) {
	if fn == "__indirect_call" {
		return 0, nil, fmt.Errorf("an indirect call: no static bound")
	}
	if onPath[fn] {
		return 0, nil, fmt.Errorf("%s is recursive: no static bound", fn)
	}
	frame, ok := frames[fn]
	if !ok {
		if strings.HasPrefix(fn, "__aeabi_") {
			return RuntimeHelperStack, []string{fn}, nil
		}
		return LibraryCallStack, []string{fn}, nil
	}
	onPath[fn] = true
	defer delete(onPath, fn)
	best, bestPath := 0, []string(nil)
	seen := map[string]bool{}
	for _, c := range calls[fn] {
		if seen[c] {
			continue
		}
		seen[c] = true
		n, p, err := deepest(c, frames, calls, onPath)
		if err != nil {
			return 0, nil, err
		}
		if n > best || (n == best && bestPath != nil && p[0] < bestPath[0]) {
			best, bestPath = n, p
		}
	}
	return frame + best, append([]string{fn}, bestPath...), nil
}

// AddStack counts s in the report: ram (total) then includes the stack.
func (r *Report) AddStack(s *StackUsage) {
	r.StackBytes = s.Bytes
	r.StackTarget = s.Target
	r.StackPath = s.Path
	r.RAMTotalBytes = r.ActivationsRWBytes + r.InputBytes + r.OutputBytes + s.Bytes
}

// stackTerm is the stack's part of the ram (total) line.
func (r *Report) stackTerm() string {
	if r.StackTarget == "" {
		return " (stack not counted: pass --target)"
	}
	return fmt.Sprintf(" + %s stack on %s (%s)", group(int64(r.StackBytes)), r.StackTarget, strings.Join(r.StackPath, " > "))
}
