package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

const exampleInputs, exampleExpected = "../../examples/mnist_bnn/samples.inputs.npy", "../../examples/mnist_bnn/samples.expected.npy"

// consumerCMake is an application's CMakeLists.txt, written as the
// generated file's comment says: add_subdirectory + target_link_libraries.
// Cross-compiled, it links dqnn's QEMU runtime (startup code, linker script,
// semihosting system calls) from DQ_RT.
const consumerCMake = `cmake_minimum_required(VERSION 3.13)
project(app C ASM)
add_subdirectory(model)
add_executable(app main.c samples.c)
target_link_libraries(app PRIVATE mnist)
if(CMAKE_CROSSCOMPILING)
  target_sources(app PRIVATE ${DQ_RT}/startup.S ${DQ_RT}/dq_rt_arm.c)
  target_include_directories(app PRIVATE ${DQ_RT})
  target_link_options(app PRIVATE --specs=nano.specs -nostartfiles -T ${DQ_RT}/ld/${DQ_LD} -L ${DQ_RT}/ld -Wl,--no-warn-rwx-segments)
  set_target_properties(app PROPERTIES SUFFIX .elf)
endif()
`

const consumerMain = `#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "mnist.h"

extern const float samples[][MNIST_IN_SIZE];
extern const int nsamples;

int main(void) {
  static float out[MNIST_OUT_SIZE];
  for (int s = 0; s < nsamples; s++) {
    if (mnist_run(samples[s], out) != 0) return 2;
    for (int i = 0; i < MNIST_OUT_SIZE; i++) {
      uint32_t u;
      memcpy(&u, &out[i], 4);
      printf("%08lx", (unsigned long)u);
    }
    printf("\n");
  }
  return 0;
}
`

// TestCMakeConsumer generates the example's library with its CMakeLists.txt
// and builds an application that uses it with CMake as the file's comment
// says, on the host (run natively) and cross-compiled for Cortex-M4 with
// cmake/arm-none-eabi-cortex-m4.cmake (run under QEMU); both must print
// the numpy oracle's outputs of the example's samples. Skipped when cmake
// is missing, except under CI.
func TestCMakeConsumer(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "cmake (apt-get install cmake)", exec.Command("cmake", "--version").Run())
	x, xs, err := validate.ReadNPY(exampleInputs)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := validate.ReadNPY(exampleExpected)
	if err != nil {
		t.Fatal(err)
	}
	var samples strings.Builder
	fmt.Fprintf(&samples, "#include \"mnist.h\"\nconst int nsamples = %d;\nconst float samples[][MNIST_IN_SIZE] = {\n", xs[0])
	for i, v := range x {
		if i%784 == 0 {
			samples.WriteString("{")
		}
		fmt.Fprintf(&samples, "%.9ef,", v)
		if i%784 == 783 {
			samples.WriteString("},\n")
		}
	}
	samples.WriteString("};\n")
	toolchain, _ := filepath.Abs("../../cmake/arm-none-eabi-cortex-m4.cmake")

	for _, cpu := range []target.CPU{target.Host, target.CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			t.Parallel()
			testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
			app := t.TempDir()
			var out, errb bytes.Buffer
			if rc := run([]string{"generate", exampleH5, "-o", filepath.Join(app, "model"), "--name", "mnist", "--target", string(cpu), "-q"}, &out, &errb); rc != 0 {
				t.Fatalf("generate: rc %d: %s", rc, errb.String())
			}
			for name, src := range map[string]string{"CMakeLists.txt": consumerCMake, "main.c": consumerMain, "samples.c": samples.String()} {
				if err := os.WriteFile(filepath.Join(app, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			build := filepath.Join(app, "build")
			// Host: a Release build (-O3); Cortex-M4: RelWithDebInfo (-O2 -g), GCC's
			// default contraction for the application. (No build type, -O0, fails
			// on M4 for now: the s1 popcount asm of dq_types.h runs out of
			// registers with a frame pointer.)
			configure := []string{"-S", app, "-B", build, "-DCMAKE_BUILD_TYPE=Release"}
			exe := filepath.Join(build, "app")
			if cpu != target.Host {
				rt := filepath.Join(app, "dqnn_rt")
				if err := target.WriteRuntime(rt); err != nil {
					t.Fatal(err)
				}
				configure = []string{"-S", app, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_TOOLCHAIN_FILE=" + toolchain, "-DDQ_RT=" + rt, "-DDQ_LD=" + cpu.LinkerScript()}
				exe += ".elf"
			}
			for _, args := range [][]string{configure, {"--build", build, "--verbose"}} {
				cmd := exec.Command("cmake", args...)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("cmake %s: %v\n%s", strings.Join(args, " "), err, b)
				} else if args[0] == "--build" {
					if !bytes.Contains(b, []byte("-lm")) {
						t.Errorf("the link does not name libm:\n%s", b)
					}
				}
			}
			res, err := target.Run(context.Background(), cpu, exe, target.RunOptions{Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Fatalf("app: %v\n%s", res.Err(), res.Stdout)
			}
			lines := strings.Fields(res.Stdout)
			if len(lines) != xs[0] {
				t.Fatalf("app printed %d lines, want %d:\n%s", len(lines), xs[0], res.Stdout)
			}
			for s, l := range lines {
				for k := 0; k < 10; k++ {
					u, err := strconv.ParseUint(l[8*k:8*k+8], 16, 32)
					if err != nil {
						t.Fatalf("line %q: %v", l, err)
					}
					got, w := math.Float32frombits(uint32(u)), want[10*s+k]
					if math.Abs(float64(got-w)) > 1e-6+1e-5*math.Abs(float64(w)) {
						t.Errorf("sample %d output %d: %g, the oracle %g", s, k, got, w)
					}
				}
			}
		})
	}
}
