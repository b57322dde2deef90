package validate

import (
	"context"
	"math/rand"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/quant"
	"github.com/dqnn/dqnn/target"
)

// A hand-written stand-in for a generated library, so the runner, the
// parsing and the comparisons are tested without the compiler: x (2x40 f32)
// -> ste_sign -> q (s1) -> relu -> y (f32).
const fakeH = `#ifndef FAKE_H
#define FAKE_H
#include <stdint.h>
#define FAKE_IN_SIZE 80
#define FAKE_OUT_SIZE 80
int fake_run(const float *input, float *output);
#ifdef DQNN_TRACE
void dqnn_trace(const char *tensor, int dtype, const void *data, int32_t bytes);
#endif
#endif
`

const fakeC = `#include "fake.h"
static uint32_t q[4];
int fake_run(const float *input, float *output) {
  int32_t r, c;
  for (r = 0; r < 2; r++) {
    q[2 * r] = 0u;
    q[2 * r + 1] = 0u;
    for (c = 0; c < 40; c++) {
      if (input[r * 40 + c] LESS 0.0f) q[2 * r + c / 32] |= 1u << (c % 32);
    }
  }
#ifdef DQNN_TRACE
  dqnn_trace("q", 3, q, (int32_t)sizeof q);
#endif
  for (r = 0; r < 2; r++) {
    for (c = 0; c < 40; c++) {
      output[r * 40 + c] = ((q[2 * r + c / 32] >> (c % 32)) & 1u) ? 0.0f : 1.0f;
    }
  }
#ifdef DQNN_TRACE
  dqnn_trace("y", 1, output, 80 * 4);
#endif
  return 0;
}
`

func fakeGraph(t *testing.T) *ir.Graph {
	t.Helper()
	qz, err := quant.ParseString("ste_sign")
	if err != nil {
		t.Fatal(err)
	}
	x := &ir.Tensor{Name: "x", Shape: []int{2, 40}, Quant: ir.Float()}
	q := &ir.Tensor{Name: "q", Shape: []int{2, 40}, Quant: ir.Quant{DType: dtype.S1, Scale: []float32{1}, Bits: 1, Quantizer: qz}}
	y := &ir.Tensor{Name: "y", Shape: []int{2, 40}, Quant: ir.Float()}
	return &ir.Graph{Name: "fake", Inputs: []*ir.Tensor{x}, Outputs: []*ir.Tensor{y}, Nodes: []*ir.Node{
		{Name: "q", Op: ir.OpQuantize, Inputs: []*ir.Tensor{x}, Outputs: []*ir.Tensor{q}, Attrs: &ir.QuantizeAttrs{Quantizer: qz}},
		{Name: "y", Op: ir.OpActivation, Inputs: []*ir.Tensor{q}, Outputs: []*ir.Tensor{y}, Attrs: &ir.ActivationAttrs{Function: "relu"}},
	}}
}

func fakeInputs(n int) [][][]float32 {
	rng := rand.New(rand.NewSource(1))
	in := make([][][]float32, n)
	for s := range in {
		v := make([]float32, 80)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		v[3] = 0 // sign(0) = +1 must hold
		in[s] = [][]float32{v}
	}
	return in
}

func fakeLib(less string) Library {
	return Library{Name: "fake", Files: map[string][]byte{"fake.h": []byte(fakeH), "fake.c": []byte(strings.Replace(fakeC, "LESS", less, 1))}}
}

func TestCheckFake(t *testing.T) {
	for _, cpu := range []target.CPU{target.Host, target.CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
			g := fakeGraph(t)
			in := fakeInputs(3)
			rep, err := Check(context.Background(), g, fakeLib("<"), in, CheckOptions{Target: cpu, PerLayer: true})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteText(&b)
			if !rep.Pass || len(rep.Layers) != 2 {
				t.Fatalf("correct library fails or traces are missing:\n%s", b.String())
			}
			// sign(0) = -1 instead of +1: one bit of the s1 tensor is wrong in every sample.
			rep, err = Check(context.Background(), g, fakeLib("<="), in, CheckOptions{Target: cpu, PerLayer: true})
			if err != nil {
				t.Fatal(err)
			}
			b.Reset()
			rep.WriteText(&b)
			if rep.Pass || rep.FirstDiverging != "q" || rep.Layers[0].Mismatches != 3 {
				t.Fatalf("wrong sign(0) not caught at q:\n%s", b.String())
			}
			if !strings.Contains(b.String(), `first diverging tensor "q"`) || !strings.Contains(b.String(), "element 3") {
				t.Errorf("report does not name the tensor and element:\n%s", b.String())
			}
			// Without tracing, the output comparison alone catches it.
			rep, err = Check(context.Background(), g, fakeLib("<="), in, CheckOptions{Target: cpu})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pass || rep.Outputs[0].Metrics.Exceeding != 3 {
				t.Errorf("output comparison: pass %v, exceeding %d, want fail with 3", rep.Pass, rep.Outputs[0].Metrics.Exceeding)
			}
		})
	}
}
