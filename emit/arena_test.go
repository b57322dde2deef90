package emit_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/passes/passestest"
	"github.com/dqnn/dqnn/target"
)

// arenaMain runs the model three ways on two samples: NAME_run (static
// arena) on sample 0, and two instances with arenas of their own (one in a
// named section) interleaved on samples 0 and 1. It checks the results of the
// same sample agree bit for bit, that NULL and misaligned arenas are refused,
// and prints both instances' outputs as hex for the Go side.
const arenaMain = `#include <stdint.h>
#include <string.h>
#include "mnist.h"
#include "dq_rt.h"

extern const float samples[2][MNIST_IN_SIZE];
static uint32_t arena_a[(MNIST_ARENA_SIZE + 3) / 4];
static uint32_t arena_b[(MNIST_ARENA_SIZE + 3) / 4 + 1] __attribute__((section(".dq_test_ccm")));
static float out_static[MNIST_OUT_SIZE], out_a[MNIST_OUT_SIZE], out_b[MNIST_OUT_SIZE];

static void hex(const float *v) {
  for (int i = 0; i < MNIST_OUT_SIZE; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    dq_rt_hex32(u);
  }
  dq_rt_puts("\n");
}

int main(void) {
  if (mnist_run(samples[0], out_static) != 0) return 2;
  /* Instance b runs sample 1 between a's runs and must not disturb a. */
  if (mnist_run_with(arena_a, samples[1], out_a) != 0) return 3;
  if (mnist_run_with(arena_b, samples[0], out_b) != 0) return 4;
  hex(out_a);
  if (mnist_run_with(arena_a, samples[0], out_a) != 0) return 5;
  if (memcmp(out_a, out_static, sizeof out_a) != 0 || memcmp(out_b, out_static, sizeof out_b) != 0) return 6;
  hex(out_b);
  if (mnist_run_with(NULL, samples[0], out_a) != -2) return 7;
  if (mnist_run_with((uint8_t *)arena_b + 2, samples[0], out_a) != -2) return 8;
  dq_rt_puts("done\n");
  return 0;
}
`

// TestCallerArena builds the MNIST model with its weights and static arena
// in named linker sections (MNIST_WEIGHTS_SECTION, MNIST_ARENA_SECTION) and
// a runner with two caller-owned arenas (one in its own section), runs it
// on Cortex-M4 under QEMU and on the host, compares both instances with
// the reference interpreter, and checks with nm and readelf that the weights
// and arenas sit in the sections asked for.
func TestCallerArena(t *testing.T) {
	t.Parallel()
	g := passestest.MNIST(5)
	res, err := compiler.Compile(g, compiler.Options{Name: "mnist", Target: "cortex-m4"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(9))
	var x [2][]float32
	var src strings.Builder
	src.WriteString("#include \"mnist.h\"\nconst float samples[2][MNIST_IN_SIZE] = {\n")
	for s := range x {
		x[s] = make([]float32, 28*28)
		src.WriteString("{")
		for i := range x[s] {
			x[s][i] = float32(rng.Float64()*2 - 1)
			fmt.Fprintf(&src, "%.9ef,", x[s][i])
		}
		src.WriteString("},\n")
	}
	src.WriteString("};\n")
	for _, cpu := range []target.CPU{target.Host, target.CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
			dir := t.TempDir()
			srcs := []string{filepath.Join(dir, "main.c"), filepath.Join(dir, "samples.c")}
			os.WriteFile(srcs[0], []byte(arenaMain), 0o644)
			os.WriteFile(srcs[1], []byte(src.String()), 0o644)
			for n, b := range res.Files {
				os.WriteFile(filepath.Join(dir, n), b, 0o644)
				if strings.HasSuffix(n, ".c") {
					srcs = append(srcs, filepath.Join(dir, n))
				}
			}
			exe, err := target.Build(context.Background(), cpu, srcs, []string{dir}, filepath.Join(dir, "build"), target.BuildOptions{
				CFlags: []string{`-DMNIST_WEIGHTS_SECTION=".dq_test_weights"`, `-DMNIST_ARENA_SECTION=".dq_test_arena"`}})
			if err != nil {
				t.Fatal(err)
			}
			r, err := target.Run(context.Background(), cpu, exe, target.RunOptions{Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(r.Stdout, "\n")
			if !r.OK() || len(lines) < 3 || lines[2] != "done" {
				t.Fatalf("runner: %v, printed %q", r.Err(), r.Stdout)
			}
			for i, s := range []int{1, 0} {
				want, err := interp.Run(g, [][]float32{x[s]})
				if err != nil {
					t.Fatal(err)
				}
				for k, w := range want[0] {
					u, err := strconv.ParseUint(lines[i][8*k:8*k+8], 16, 32)
					if err != nil {
						t.Fatalf("line %q: %v", lines[i], err)
					}
					if got := math.Float32frombits(uint32(u)); math.Abs(float64(got-w)) > 1e-6+1e-5*math.Abs(float64(w)) {
						t.Errorf("instance %d, sample %d, output %d: C %g, interpreter %g", i, s, k, got, w)
					}
				}
			}
			checkSections(t, cpu, exe, map[string]*regexp.Regexp{
				".dq_test_weights": regexp.MustCompile(`^mnist_l\d+_`), // every constant array of the model
				".dq_test_arena":   regexp.MustCompile(`^mnist_arena$`),
				".dq_test_ccm":     regexp.MustCompile(`^arena_b$`),
			}, res.Report.WeightsROBytes)
		})
	}
}

// checkSections reads the symbol table and section headers of exe and
// checks that every data symbol matching want[section] lies in that section,
// that at least one does, and that the weights section holds at least
// weights bytes.
func checkSections(t *testing.T, cpu target.CPU, exe string, want map[string]*regexp.Regexp, weights int) {
	t.Helper()
	tool := func(name string) string {
		if cpu == target.Host {
			return name
		}
		return "arm-none-eabi-" + name
	}
	testenv.NeedCmd(t, tool("readelf"))
	out, err := exec.Command(tool("readelf"), "-W", "-S", "-s", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Section headers: [Nr] Name Type Address Off Size ...
	secRe := regexp.MustCompile(`(?m)^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)`)
	index, size := map[string]string{}, map[string]int64{}
	for _, m := range secRe.FindAllStringSubmatch(string(out), -1) {
		index[m[1]] = m[2]
		size[m[2]], _ = strconv.ParseInt(m[3], 16, 64)
	}
	// Symbols: Num: Value Size Type Bind Vis Ndx Name
	symRe := regexp.MustCompile(`(?m)^\s*\d+:\s+[0-9a-f]+\s+\d+\s+OBJECT\s+\S+\s+\S+\s+(\S+)\s+(\S+)$`)
	found := map[string]int{}
	for _, m := range symRe.FindAllStringSubmatch(string(out), -1) {
		for sec, re := range want {
			if re.MatchString(m[2]) {
				if index[m[1]] != sec {
					t.Errorf("%s is in section %q, want %s", m[2], index[m[1]], sec)
				}
				found[sec]++
			}
		}
	}
	for sec := range want {
		if found[sec] == 0 {
			t.Errorf("no symbol in %s (sections: %v)", sec, size)
		}
	}
	if size[".dq_test_weights"] < int64(weights) {
		t.Errorf(".dq_test_weights holds %d bytes, the model's weights %d", size[".dq_test_weights"], weights)
	}
}

// TestNoStaticArena builds the library with MNIST_NO_STATIC_ARENA and a
// program that only calls mnist_run_with: it links, runs, and the image
// holds no static arena and no mnist_run.
func TestNoStaticArena(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "a runner for host", target.Available(target.Host))
	testenv.NeedCmd(t, "nm")
	res, err := compiler.Compile(passestest.MNIST(5), compiler.Options{Name: "mnist", Target: "host", Amalgamate: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const main = `#include "mnist.h"
static float in[MNIST_IN_SIZE], out[MNIST_OUT_SIZE];
static uint32_t arena[(MNIST_ARENA_SIZE + 3) / 4];
int main(void) { return mnist_run_with(arena, in, out); }
`
	srcs := []string{filepath.Join(dir, "main.c"), filepath.Join(dir, "mnist.c")}
	os.WriteFile(srcs[0], []byte(main), 0o644)
	os.WriteFile(srcs[1], res.Files["mnist.c"], 0o644)
	os.WriteFile(filepath.Join(dir, "mnist.h"), res.Files["mnist.h"], 0o644)
	exe, err := target.Build(context.Background(), target.Host, srcs, []string{dir}, dir, target.BuildOptions{CFlags: []string{"-DMNIST_NO_STATIC_ARENA"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := target.Run(context.Background(), target.Host, exe, target.RunOptions{})
	if err != nil || !r.OK() {
		t.Fatalf("run: %v %v", err, r.Err())
	}
	syms, err := exec.Command("nm", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{" mnist_arena\n", " mnist_run\n"} {
		if strings.Contains(string(syms), s) {
			t.Errorf("the image still has%s", strings.TrimSuffix(s, "\n"))
		}
	}
	if !strings.Contains(string(syms), " mnist_run_with\n") {
		t.Error("the image has no mnist_run_with")
	}
}
