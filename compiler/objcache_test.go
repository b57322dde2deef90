package compiler_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
)

// Every library these tests generate carries copies of the same kernel
// files (dq_*.c with the same dq_*.h), so a kernel is compiled once per
// compiler and flag set for the whole test binary and its object reused by
// every later build (issue #18: the package compiled the same kernels for
// each of its ~100 models).
var objs struct {
	dir string
	sem chan struct{} // one compiler per CPU
	mu  sync.Mutex
	m   map[string]*cachedObj
}

type cachedObj struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dqnn-compiler-objs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	objs.dir, objs.sem, objs.m = dir, make(chan struct{}, runtime.NumCPU()), map[string]*cachedObj{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// compileDir compiles every .c file of dir with cc and flags and returns
// the objects: the kernel files through the cache, the model's own files
// into dir. Errors carry the compiler's output.
func compileDir(cc string, flags []string, dir string) ([]string, error) {
	cs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	sort.Strings(cs)
	// The runtime headers the kernels include: part of each kernel's key.
	hs, _ := filepath.Glob(filepath.Join(dir, "dq_*.h"))
	sort.Strings(hs)
	hh := sha256.New()
	for _, h := range hs {
		data, err := os.ReadFile(h)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(hh, "%s\x00%d\x00", filepath.Base(h), len(data))
		hh.Write(data)
	}
	headers := hh.Sum(nil)
	out := make([]string, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if strings.HasPrefix(filepath.Base(c), "dq_") {
				out[i], errs[i] = kernelObject(cc, flags, dir, c, headers)
				return
			}
			o := strings.TrimSuffix(c, ".c") + ".o"
			objs.sem <- struct{}{}
			defer func() { <-objs.sem }()
			errs[i] = runCC(dir, cc, append(append([]string{}, flags...), "-c", filepath.Base(c), "-o", filepath.Base(o)))
			out[i] = o
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kernelObject returns the object of kernel file src compiled by cc with
// flags next to the headers hashed in headers, compiling it on first use.
func kernelObject(cc string, flags []string, dir, src string, headers []byte) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%x\x00", cc, flags, headers)
	h.Write(data)
	key := hex.EncodeToString(h.Sum(nil))[:24]
	objs.mu.Lock()
	e := objs.m[key]
	if e == nil {
		e = &cachedObj{}
		objs.m[key] = e
	}
	objs.mu.Unlock()
	e.once.Do(func() {
		objs.sem <- struct{}{}
		defer func() { <-objs.sem }()
		e.path = filepath.Join(objs.dir, key+"_"+strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		// Compiled where it lies, so that messages name the file as a
		// direct compile would.
		e.err = runCC(dir, cc, append(append([]string{}, flags...), "-c", filepath.Base(src), "-o", e.path))
	})
	return e.path, e.err
}

func runCC(dir, cc string, args []string) error {
	cmd := exec.Command(cc, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s (in %s): %v\n%s", cc, strings.Join(args, " "), dir, err, out)
	}
	return nil
}

// TestKernelObjectsReused: a second library with the same kernels compiles
// none of them again, and a changed kernel file is compiled anew.
func TestKernelObjectsReused(t *testing.T) {
	write := func(dir, name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lib := func(kernel string) string {
		dir := t.TempDir()
		write(dir, "dq_types.h", "typedef int dq_int;\n")
		write(dir, "dq_k.c", "#include \"dq_types.h\"\n"+kernel)
		write(dir, "model.c", "int model(void) { return 1; }\n")
		return dir
	}
	flags := []string{"-std=c99", "-O1", "-Wall", "-Werror"}
	testenv.NeedCmd(t, "gcc")
	a, err := compileDir("gcc", flags, lib("dq_int dq_k(void) { return 2; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := compileDir("gcc", flags, lib("dq_int dq_k(void) { return 2; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := compileDir("gcc", flags, lib("dq_int dq_k(void) { return 3; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != b[0] || a[1] == b[1] {
		t.Errorf("same kernel: objects %v and %v, want the kernel's shared and the model's not", a, b)
	}
	if c[0] == a[0] {
		t.Errorf("changed kernel reused the old object %s", c[0])
	}
	if _, err := compileDir("gcc", flags, lib("dq_int dq_k(void) { return x; }\n")); err == nil || !strings.Contains(err.Error(), "dq_k.c") {
		t.Errorf("a kernel that does not compile: err %v, want the compiler's message naming dq_k.c", err)
	}
}
