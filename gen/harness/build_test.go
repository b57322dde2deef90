package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/testenv"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/target"
)

// The kernels are compiled once per compiler and flag set: every test asks
// objects for the (compiler, flags, file) it needs and gets the one object
// that the first asker built. Before this cache the package compiled the
// 132 kernels (1.6 MB of C) three times with identical gcc flags and twice
// per other compiler. The objects are kept between runs (cacheDir), keyed
// by the compiler's identity, the flags, the library's headers and the
// file's content, as Go's build cache keeps packages: a run compiles only
// the kernel files that changed (all of them when a header did) and the
// test programs it has not built before.
var shared struct {
	kdir    string    // the embedded kernel library, written once
	hdrHash string    // of the library's headers (dq_*.h), which every file includes
	cache   *objCache // objects and assembly of kernel files
}

// cacheDir is where objects persist between runs: $DQNN_HARNESS_CACHE, or
// dqnn-harness in the user's cache directory; "" (a directory of the run,
// removed at its end) under Bazel, whose tests must stay hermetic, with
// DQNN_HARNESS_CACHE=off, or when neither is writable.
func cacheDir() string {
	dir := os.Getenv("DQNN_HARNESS_CACHE")
	if dir == "off" || os.Getenv("TEST_TMPDIR") != "" {
		return ""
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(base, "dqnn-harness")
	}
	if os.MkdirAll(dir, 0o755) != nil {
		return ""
	}
	return dir
}

// pruneCache removes the entries of dir not used for two weeks (a hit
// touches its entry), so the cache holds about the objects of the
// libraries built lately.
func pruneCache(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	old := time.Now().Add(-14 * 24 * time.Hour)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && e.IsDir() && info.ModTime().Before(old) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// headerHash hashes the headers of the embedded kernel library: the
// kernel files include no other file of it (and the system's headers come
// with the compiler's identity).
func headerHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(kernelsc.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".h") {
			return err
		}
		src, err := kernelsc.FS.ReadFile(p)
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(src))
		h.Write(src)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// compilerIDs caches compilerID per compiler name.
var compilerIDs sync.Map

// compilerID identifies the compiler cc resolves to: its path and its
// --version text (a new compiler version or package misses the cache).
func compilerID(ctx context.Context, cc string) (string, error) {
	if id, ok := compilerIDs.Load(cc); ok {
		return id.(string), nil
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v", cc, err)
	}
	id := path + "\x00" + string(out)
	compilerIDs.Store(cc, id)
	return id, nil
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dqnn-harness-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shared.kdir = filepath.Join(dir, "kernels")
	if err := writeKernels(shared.kdir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if shared.hdrHash, err = headerHash(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	objDir := cacheDir()
	if objDir == "" {
		objDir = filepath.Join(dir, "obj")
	} else {
		pruneCache(objDir)
	}
	shared.cache = &objCache{dir: objDir, sem: make(chan struct{}, runtime.NumCPU()), m: map[string]*objEntry{}}
	stop := progressPrinter(20 * time.Second)
	code := m.Run()
	stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeKernels writes the embedded kernel library into dir.
func writeKernels(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(kernelsc.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := kernelsc.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), src, 0o644)
	})
}

// kernelDir returns the directory holding the kernel library (shared, read only).
func kernelDir(t *testing.T) string {
	t.Helper()
	return shared.kdir
}

// toolchain is a compiler with the flags of one build. asFlags are the
// flags the assembler step needs (the target's -mcpu/-mfpu/-mfloat-abi).
type toolchain struct {
	cc      string
	flags   []string
	asFlags []string
}

func (tc toolchain) String() string { return tc.cc + " " + strings.Join(tc.flags, " ") }

// objCache compiles C files to assembly (-S) and then to objects, once per
// compiler, flags and source content, bounded to one compiler per CPU.
type objCache struct {
	dir string
	sem chan struct{}
	mu  sync.Mutex
	m   map[string]*objEntry
}

type objEntry struct {
	once     sync.Once
	asm, obj string
	err      error
}

// progress counts work for the periodic progress line (issue #18: say what
// runs, k of n, at least every 30 s).
var progress struct {
	compiled, hits        atomic.Int64
	programs, programsRun atomic.Int64
	mu                    sync.Mutex
	current               string
}

func setCurrent(s string) {
	progress.mu.Lock()
	progress.current = s
	progress.mu.Unlock()
}

func progressPrinter(every time.Duration) (stop func()) {
	done := make(chan struct{})
	start := time.Now()
	go func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				progress.mu.Lock()
				cur := progress.current
				progress.mu.Unlock()
				fmt.Fprintf(os.Stderr, "gen/harness %3.0fs: %d kernel compilations (%d reused), %d of %d programs run; last: %s\n",
					time.Since(start).Seconds(), progress.compiled.Load(), progress.hits.Load(), progress.programsRun.Load(), progress.programs.Load(), cur)
			}
		}
	}()
	return func() { close(done) }
}

// object returns the object file of src built by tc, compiling it on first use.
func (c *objCache) object(ctx context.Context, tc toolchain, src string) (string, error) {
	e, err := c.entry(ctx, tc, src)
	return e.obj, err
}

// assembly returns the compiler's assembly for src (the -S output the object was assembled from).
func (c *objCache) assembly(ctx context.Context, tc toolchain, src string) (string, error) {
	e, err := c.entry(ctx, tc, src)
	return e.asm, err
}

func (c *objCache) entry(ctx context.Context, tc toolchain, src string) (*objEntry, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	id, err := compilerID(ctx, tc.cc)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%q\x00%s\x00", id, tc.flags, tc.asFlags, shared.hdrHash)
	h.Write(data)
	key := hex.EncodeToString(h.Sum(nil))[:32]
	c.mu.Lock()
	e := c.m[key]
	if e == nil {
		e = &objEntry{}
		c.m[key] = e
	} else {
		progress.hits.Add(1)
	}
	c.mu.Unlock()
	e.once.Do(func() {
		entryDir := filepath.Join(c.dir, key)
		base := filepath.Join(entryDir, strings.TrimSuffix(filepath.Base(src), ".c"))
		e.asm, e.obj = base+".s", base+".o"
		if _, err := os.Stat(e.obj); err == nil { // kept by an earlier run (the object is written last)
			now := time.Now()
			os.Chtimes(entryDir, now, now)
			progress.hits.Add(1)
			return
		}
		c.sem <- struct{}{}
		defer func() { <-c.sem }()
		setCurrent(fmt.Sprintf("%s %s", tc.cc, filepath.Base(src)))
		if err := os.MkdirAll(entryDir, 0o755); err != nil {
			e.err = err
			return
		}
		// Written under names of this process, then renamed: another
		// test process may build the same entry at the same time.
		tmp := fmt.Sprintf("%s.%d", base, os.Getpid())
		args := append(append([]string{}, tc.flags...), "-I", shared.kdir, "-S", src, "-o", tmp+".s")
		if out, err := exec.CommandContext(ctx, tc.cc, args...).CombinedOutput(); err != nil {
			e.err = fmt.Errorf("%s: %v\n%s\ncommand: %s %s", filepath.Base(src), err, bytes.TrimSpace(out), tc.cc, strings.Join(args, " "))
			return
		}
		args = append(append([]string{}, tc.asFlags...), "-c", tmp+".s", "-o", tmp+".o")
		if out, err := exec.CommandContext(ctx, tc.cc, args...).CombinedOutput(); err != nil {
			e.err = fmt.Errorf("%s: assembling: %v\n%s", filepath.Base(src), err, bytes.TrimSpace(out))
			return
		}
		if err := os.Rename(tmp+".s", e.asm); err != nil {
			e.err = err
			return
		}
		e.err = os.Rename(tmp+".o", e.obj)
		progress.compiled.Add(1)
	})
	if e.err != nil {
		return e, e.err
	}
	return e, nil
}

// hostToolchain is the host compiler cc with flags.
func hostToolchain(cc string, flags ...string) toolchain {
	return toolchain{cc: cc, flags: flags}
}

// armToolchain is arm-none-eabi-gcc for cpu with flags added to the core's own.
func armToolchain(cpu target.CPU, flags ...string) toolchain {
	return toolchain{cc: "arm-none-eabi-gcc", flags: append(cpu.CFlags(), flags...), asFlags: cpu.CFlags()}
}

// defaultARMFlags are what a user of arm-none-eabi-gcc writes at least: the
// core's flags and -O2, no -std and no -ffp-contract (so GCC's default,
// gnu17 with -ffp-contract=fast), plus the warnings the library must pass.
var defaultARMFlags = []string{"-O2", "-Wall", "-Wextra", "-Werror"}

// buildProgram writes prog into dir (main.c, data.bin, data.s), compiles
// main.c and prog's kernels with tc and links them, with the data, against
// target's runtime for cpu.
func buildProgram(ctx context.Context, cpu target.CPU, tc toolchain, dir string, prog *Program) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mainC, bin, asm := filepath.Join(dir, "main.c"), filepath.Join(dir, "data.bin"), filepath.Join(dir, "data.s")
	for f, b := range map[string][]byte{mainC: prog.Main, bin: prog.Data, asm: prog.Asm(bin)} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return "", err
		}
	}
	objs := make([]string, 0, len(prog.Kernels)+2)
	// The driver at -O0: its speed does not matter, and optimising 120
	// cases inlined into main took clang 5 s per program (0.2 s at -O0).
	driver := toolchain{cc: tc.cc, flags: append(slices.Clone(tc.flags), "-O0"), asFlags: tc.asFlags}
	mainObj, err := shared.cache.object(ctx, driver, mainC)
	if err != nil {
		return "", err
	}
	objs = append(objs, mainObj, asm)
	for _, f := range KernelFiles(prog.Kernels) {
		o, err := shared.cache.object(ctx, tc, filepath.Join(shared.kdir, f))
		if err != nil {
			return "", err
		}
		objs = append(objs, o)
	}
	opt := target.BuildOptions{}
	if cpu == target.Host {
		opt.Compiler = tc.cc
	}
	return target.Build(ctx, cpu, objs, []string{shared.kdir}, dir, opt)
}

// haveTool skips t when the tool is missing, and fails it under CI.
func haveTool(t *testing.T, cc string) {
	t.Helper()
	testenv.NeedCmd(t, cc)
}

// localInclude matches a kernel file's #include "...".
var localInclude = regexp.MustCompile(`(?m)^\s*#\s*include\s*"([^"]+)"`)

// TestObjectKeyCoversIncludes: an object's cache key covers its file and
// the library's headers, so a kernel file may include nothing else of the
// library (a .c, or a file outside it).
func TestObjectKeyCoversIncludes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(kernelDir(t), "*.[ch]"))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range localInclude.FindAllSubmatch(src, -1) {
			name := string(m[1])
			if _, err := fs.Stat(kernelsc.FS, name); err != nil || !strings.HasSuffix(name, ".h") {
				t.Errorf("%s includes %q: not a header of the kernel library, so the object cache's key misses it", filepath.Base(f), name)
			}
		}
	}
}
