package target

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/testenv"
)

const helloC = `#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "dq_rt.h"

static volatile float x = 2.0f;
volatile int32_t zeroed[1000];
static int32_t inited[4] = {1, 2, 3, 4};

int main(void) {
  float y = sqrtf(x) * 3.0f;
  uint32_t bits;
  memcpy(&bits, &y, 4);
  for (int i = 0; i < 1000; i++) {
    if (zeroed[i] != 0) return 3;
  }
  printf("hello %d %08lx\n", (int)(inited[0] + inited[1] + inited[2] + inited[3]), (unsigned long)bits);
  dq_rt_puts("puts ok\n");
  return 7;
}
`

// faultC reads unmapped memory: 0xF0000000 on the MPS boards; the nRF51
// maps a stub device there, but nothing just below its RAM.
const faultC = `#include <stdint.h>
#if __ARM_ARCH_ISA_THUMB == 1
#define DQ_UNMAPPED 0x1FFFF000u
#else
#define DQ_UNMAPPED 0xF0000000u
#endif
int main(void) {
  volatile uint32_t *p = (volatile uint32_t *)DQ_UNMAPPED;
  return (int)*p;
}
`

const hangC = `int main(void) {
  volatile int x = 0;
  for (;;) { x++; }
  return x;
}
`

const hostFaultC = `#include <stddef.h>
int main(void) {
  volatile int *p = NULL;
  return *p;
}
`

const countC = `#include <stdint.h>
#include "dq_rt.h"

int32_t work(int32_t n);
__attribute__((noinline)) int32_t work(int32_t n) {
  int32_t s = 0;
  for (volatile int32_t i = 0; i < n; i++) s += i;
  return s;
}

int main(void) {
  int32_t r = 0;
  dq_bench_begin();
  dq_bench_end();
  dq_bench_begin();
  r += work(100);
  dq_bench_end();
  return r == 4950 ? 0 : 1;
}
`

func writeC(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func needs(t *testing.T, cpu CPU) {
	t.Helper()
	testenv.Need(t, "a runner for "+string(cpu), Available(cpu))
}

func build(t *testing.T, cpu CPU, src string) string {
	t.Helper()
	dir := t.TempDir()
	exe, err := Build(context.Background(), cpu, []string{writeC(t, dir, "main.c", src)}, nil, dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestParseCPU(t *testing.T) {
	for in, want := range map[string]CPU{"host": Host, "cortex-m4": CortexM4, "M7": CortexM7, "m33": CortexM33, "Cortex-M55": CortexM55, "m0+": CortexM0Plus, "cortex-m0plus": CortexM0Plus, "M3": CortexM3} {
		got, err := ParseCPU(in)
		if err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseCPU("cortex-m1"); err == nil || !strings.Contains(err.Error(), "cortex-m55") {
		t.Errorf("ParseCPU(cortex-m1) error = %v, want one listing the targets", err)
	}
}

func TestHello(t *testing.T) {
	for _, cpu := range CPUs {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, helloC)
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			// sqrtf(2)*3 = 4.2426405 = 0x4087c3b6 in float32.
			want := "hello 10 4087c3b6\nputs ok\n"
			if res.Stdout != want || res.ExitCode != 7 || res.Fault != "" || res.TimedOut {
				t.Errorf("got stdout %q exit %d fault %q timeout %v; want %q exit 7\nstderr: %s", res.Stdout, res.ExitCode, res.Fault, res.TimedOut, want, res.Stderr)
			}
		})
	}
}

func TestFault(t *testing.T) {
	for _, cpu := range CPUs[1:] {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, faultC)
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if res.Fault == "" || res.OK() || res.Err() == nil {
				t.Fatalf("no fault reported: %+v", res)
			}
			if !strings.Contains(res.FaultMsg, "pc=") {
				t.Errorf("fault report %q lacks the PC", res.FaultMsg)
			}
			t.Logf("%s: %s", cpu, res.FaultMsg)
		})
	}
}

func TestHostFault(t *testing.T) {
	needs(t, Host)
	exe := build(t, Host, hostFaultC)
	res, err := Run(context.Background(), Host, exe, RunOptions{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fault != "SIGSEGV" {
		t.Errorf("fault = %q, want SIGSEGV (%+v)", res.Fault, res)
	}
}

func TestSanitize(t *testing.T) {
	needs(t, Host)
	dir := t.TempDir()
	src := `int main(int argc, char **argv) { int a[4] = {0}; (void)argv; return a[argc + 3]; }`
	exe, err := Build(context.Background(), Host, []string{writeC(t, dir, "m.c", src)}, nil, dir, BuildOptions{Sanitize: true})
	if err != nil {
		testenv.Need(t, "the sanitizer runtime", err)
	}
	res, err := Run(context.Background(), Host, exe, RunOptions{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Fault, "Sanitizer") {
		t.Errorf("fault = %q, want a sanitizer; stderr:\n%s", res.Fault, res.Stderr)
	}
}

func TestTimeout(t *testing.T) {
	for _, cpu := range []CPU{Host, CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, hangC)
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !res.TimedOut || res.OK() {
				t.Errorf("hang not reported as a timeout: %+v", res)
			}
		})
	}
}

func TestBuildError(t *testing.T) {
	needs(t, Host)
	dir := t.TempDir()
	_, err := Build(context.Background(), Host, []string{writeC(t, dir, "bad.c", "int main(void) { int unused; return 0; }\n")}, nil, dir, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "unused") {
		t.Errorf("Build of a program with a warning: err = %v, want the diagnostic", err)
	}
}

func TestCount(t *testing.T) {
	for _, cpu := range CPUs[1:] {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, countC)
			opt := RunOptions{Timeout: 30 * time.Second, CountBetween: [][2]string{{"dq_bench_begin", "dq_bench_end"}, {"work", "dq_bench_end"}}}
			var first *Result
			for i := 0; i < 2; i++ {
				res, err := Run(context.Background(), cpu, exe, opt)
				if err != nil {
					t.Fatal(err)
				}
				if err := res.Err(); err != nil {
					t.Fatal(err)
				}
				if len(res.Marks) != 5 {
					t.Fatalf("marks = %+v, want begin, end, begin, work, end", res.Marks)
				}
				if i == 0 {
					first = res
					continue
				}
				for k, v := range first.Instructions {
					if res.Instructions[k] != v {
						t.Errorf("%s: %d then %d instructions: not repeatable", k, v, res.Instructions[k])
					}
				}
			}
			empty := first.Marks[1].Count - first.Marks[0].Count
			loop := first.Marks[4].Count - first.Marks[2].Count
			if empty == 0 || empty > 10 {
				t.Errorf("empty begin..end = %d instructions, want a few", empty)
			}
			// 100 iterations of a loop with a volatile counter: several instructions each.
			if loop < 400 || loop > 2000 {
				t.Errorf("work(100) = %d instructions, want 400..2000", loop)
			}
			if got := first.Instructions["dq_bench_begin..dq_bench_end"]; got != empty+loop {
				t.Errorf("sum over intervals = %d, want %d", got, empty+loop)
			}
			if first.Instructions["total"] <= loop {
				t.Errorf("total %d <= loop %d", first.Instructions["total"], loop)
			}
			t.Logf("%s: empty-call overhead %d, work(100) %d, work..end %d, total %d", cpu, empty, loop, first.Instructions["work..dq_bench_end"], first.Instructions["total"])
		})
	}
}

func TestStackOverflow(t *testing.T) {
	for _, cpu := range CPUs[1:] {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			src := `#include <stdint.h>
__attribute__((noinline)) static int32_t deep(volatile int32_t *p, int32_t n) {
  volatile int32_t buf[256];
  buf[0] = *p + n;
  if (n == 0) return buf[0];
  return deep(buf, n - 1) + buf[0];
}
int main(void) { volatile int32_t z = 1; return (int)deep(&z, 1000000); }
`
			exe := build(t, cpu, src)
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			// The report line must survive: the overflow may not run over code and constants.
			if res.Fault == "" || !strings.Contains(res.FaultMsg, "cfsr=") || strings.HasPrefix(res.FaultMsg, "Unknown") {
				t.Fatalf("stack overflow not reported as a fault with its report line: %+v", res)
			}
			t.Logf("%s: %s", cpu, res.FaultMsg)
		})
	}
}

// TestStackPeak: painting finds a callee's 1,200-byte frame, and not much more.
func TestStackPeak(t *testing.T) {
	src := `#include <stdint.h>
#include "dq_rt.h"
__attribute__((noinline)) static int32_t deep(int32_t n) {
  volatile int32_t buf[300];
  for (int32_t i = 0; i < 300; i++) buf[i] = i * n;
  return buf[n];
}
int main(void) {
  dq_stack_paint();
  int32_t r = deep(7);
  uint32_t peak = dq_stack_peak();
  dq_rt_puts("peak ");
  dq_rt_hex32(peak);
  dq_rt_puts("\n");
  return r == 49 ? 0 : 1;
}
`
	for _, cpu := range CPUs[1:] {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, src)
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Err(); err != nil {
				t.Fatalf("%v\n%s", err, res.Stdout)
			}
			var peak uint32
			if _, err := fmt.Sscanf(res.Stdout, "peak %x", &peak); err != nil {
				t.Fatalf("stdout %q: %v", res.Stdout, err)
			}
			if peak < 1200 || peak > 1200+64 {
				t.Errorf("peak stack %d B, want 1,200 B for the buffer plus a small frame", peak)
			}
		})
	}
}

func TestImageSize(t *testing.T) {
	needs(t, CortexM4)
	exe := build(t, CortexM4, helloC)
	sz, err := ImageSize(context.Background(), exe)
	if err != nil {
		t.Fatal(err)
	}
	if sz.Text == 0 || sz.BSS < 64*1024+4000 {
		t.Errorf("size = %+v, want text > 0 and bss >= 64 KB stack + 4000", sz)
	}
	if st, err := StackReserved(context.Background(), exe); err != nil || st != 64*1024 {
		t.Errorf("StackReserved = %d, %v; want 64 KB", st, err)
	}
}

func TestBetween(t *testing.T) {
	m := []Mark{{"a", 10}, {"x", 15}, {"b", 20}, {"b", 25}, {"a", 30}, {"b", 33}, {"a", 40}}
	if got := Between(m, "a", "b"); got != 13 {
		t.Errorf("a..b = %d, want 10 + 3", got)
	}
	if got := Between(m, "a", "a"); got != 30 {
		t.Errorf("a..a = %d, want 20 + 10", got)
	}
	if got := Between(m, "x", "b"); got != 5 {
		t.Errorf("x..b = %d, want 5", got)
	}
}

// TestCountMatchesSingleStep checks the plugin's counts against QEMU's own
// log of every executed instruction (-singlestep -d exec,nochain).
func TestCountMatchesSingleStep(t *testing.T) {
	needs(t, CortexM4)
	exe := build(t, CortexM4, countC)
	ctx := context.Background()
	res, err := Run(ctx, CortexM4, exe, RunOptions{Timeout: 30 * time.Second, CountBetween: [][2]string{{"work", "dq_bench_end"}}})
	if err != nil {
		t.Fatal(err)
	}
	syms, err := Symbols(ctx, exe)
	if err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(t.TempDir(), "exec.log")
	cmd := exec.CommandContext(ctx, "qemu-system-arm", "-M", CortexM4.Machine(), "-nographic", "-monitor", "none", "-serial", "none",
		"-semihosting-config", "enable=on,target=native", "-singlestep", "-d", "exec,nochain", "-D", logf, "-kernel", exe)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu: %v\n%s", err, out)
	}
	data, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	// Lines look like "Trace 0: 0x... [00800408/0000020c/00000110/ff000201] Reset_Handler";
	// the second field is the PC.
	re := regexp.MustCompile(`(?m)^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/`)
	var pcs []uint64
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		pc, _ := strconv.ParseUint(m[1], 16, 64)
		pcs = append(pcs, pc)
	}
	if uint64(len(pcs)) != res.Instructions["total"] {
		t.Errorf("total: plugin %d, single-step log %d", res.Instructions["total"], len(pcs))
	}
	// Instructions from the entry of work to the next entry of dq_bench_end.
	var start, n int = -1, 0
	for i, pc := range pcs {
		if pc == syms["work"] && start < 0 {
			start = i
		}
		if pc == syms["dq_bench_end"] && start >= 0 {
			n = i - start
			break
		}
	}
	if got := res.Instructions["work..dq_bench_end"]; uint64(n) != got || n == 0 {
		t.Errorf("work..dq_bench_end: plugin %d, single-step log %d", got, n)
	}
}

func TestHostClang(t *testing.T) {
	testenv.NeedCmd(t, "clang")
	dir := t.TempDir()
	exe, err := Build(context.Background(), Host, []string{writeC(t, dir, "main.c", helloC)}, nil, dir, BuildOptions{Compiler: "clang"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Host, exe, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "hello 10 4087c3b6\nputs ok\n" || res.ExitCode != 7 {
		t.Errorf("clang build: %+v", res)
	}
	if _, err := Build(context.Background(), Host, []string{filepath.Join(dir, "main.c")}, nil, dir, BuildOptions{Compiler: "no-such-cc"}); err == nil || !strings.Contains(err.Error(), "no-such-cc") {
		t.Errorf("missing compiler: %v", err)
	}
}
