package compiler_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes/passestest"
	"github.com/dqnn/dqnn/target"
)

// runOnCPU builds the compiled single-I/O library with a main that runs the
// given samples (embedded as C arrays) and prints every output's bits, runs
// it under QEMU and returns the outputs.
func runOnCPU(t *testing.T, cpu target.CPU, name string, res *compiler.Result, g *ir.Graph, x []float32, samples int) []float32 {
	t.Helper()
	dir := write(t, res.Files)
	n, m := ir.NumElements(g.Inputs[0].Shape), ir.NumElements(g.Outputs[0].Shape)
	var b strings.Builder
	fmt.Fprintf(&b, "#include <stdio.h>\n#include <string.h>\n#include <stdint.h>\n#include \"%s.h\"\n", name)
	fmt.Fprintf(&b, "static const float in[%d][%d] = {\n", samples, n)
	for s := 0; s < samples; s++ {
		b.WriteString("{")
		for _, v := range x[s*n : (s+1)*n] {
			fmt.Fprintf(&b, "%sf,", strconv.FormatFloat(float64(v), 'e', -1, 32))
		}
		b.WriteString("},\n")
	}
	fmt.Fprintf(&b, "};\nstatic float out[%d];\nint main(void) {\n  int s, i;\n  for (s = 0; s < %d; s++) {\n", m, samples)
	fmt.Fprintf(&b, "    int rc = %s_run(in[s], out);\n    if (rc != 0) return 10;\n", name)
	b.WriteString("    for (i = 0; i < (int)(sizeof out / sizeof out[0]); i++) { uint32_t u; memcpy(&u, &out[i], 4); printf(\"%08lx\\n\", (unsigned long)u); }\n  }\n  return 0;\n}\n")
	os.WriteFile(filepath.Join(dir, "main_qemu.c"), []byte(b.String()), 0o644)
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	ctx := context.Background()
	exe, err := target.Build(ctx, cpu, srcs, []string{dir}, filepath.Join(dir, "build"), target.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := target.Run(ctx, cpu, exe, target.RunOptions{Timeout: 120 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, l := range strings.Fields(r.Stdout) {
		u, err := strconv.ParseUint(l, 16, 32)
		if err != nil {
			t.Fatalf("bad output line %q", l)
		}
		out = append(out, math.Float32frombits(uint32(u)))
	}
	if len(out) != samples*m {
		t.Fatalf("got %d values, want %d\n%s", len(out), samples*m, r.Stdout)
	}
	return out
}

// TestCortexM4 runs the example and two exact patterns on an emulated
// Cortex-M4 (QEMU mps2-an386, hard float) and compares with the
// interpreter: exact for quantized outputs, 1e-5 relative for f32 (newlib's
// expf in softmax).
func TestCortexM4(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU run")
	}
	testenv.Need(t, "a runner for "+string(target.CortexM4), target.Available(target.CortexM4))
	type tc struct {
		name string
		g    *ir.Graph
	}
	cases := []tc{{"mnist_bnn", example(t)}}
	for _, c := range passestest.Cases() {
		if c.Name == "conv_pool_bn_sign_flip" || c.Name == "relu_s8_chain" {
			cases = append(cases, tc{c.Name, c.Build()})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := compiler.Compile(c.g, compiler.Options{Name: c.name})
			if err != nil {
				t.Fatal(err)
			}
			const samples = 3
			n := ir.NumElements(c.g.Inputs[0].Shape)
			r := rand.New(rand.NewPCG(5, 6))
			x := make([]float32, samples*n)
			for i := range x {
				x[i] = float32(r.Float64()*2 - 1)
			}
			got := runOnCPU(t, target.CortexM4, c.name, res, c.g, x, samples)
			exact := c.g.Outputs[0].Quant.DType != dtype.F32
			m := ir.NumElements(c.g.Outputs[0].Shape)
			for s := 0; s < samples; s++ {
				want, err := interp.Run(c.g, [][]float32{x[s*n : (s+1)*n]})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want[0] {
					if !close32(got[s*m+i], want[0][i], exact) {
						t.Errorf("sample %d element %d: Cortex-M4 %v, interp %v", s, i, got[s*m+i], want[0][i])
						break
					}
				}
			}
		})
	}
}
