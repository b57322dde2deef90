package compiler_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/validate"
)

const qioHarness = `#include <stdio.h>
#include <stdlib.h>
#include "MODEL.h"
int main(int argc, char **argv) {
  static unsigned char in[INBYTES], out[OUTBYTES];
  FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
  int rc;
  (void)argc;
  while (fread(in, 1, INBYTES, fi) == INBYTES) {
    rc = MODEL_run((const INTYPE *)(const void *)in, (OUTTYPE *)(void *)out);
    if (rc != 0) return 4;
    fwrite(out, 1, OUTBYTES, fo);
  }
  fclose(fo);
  return 0;
}
`

// quantize encodes real values of a tensor in its storage type, the way a
// caller of a --quantized-io library would.
func quantize(t *ir.Tensor, x []float32) []byte {
	var b bytes.Buffer
	q := t.Quant
	switch q.DType {
	case dtype.F32:
		binary.Write(&b, binary.LittleEndian, x)
	case dtype.S8:
		for _, v := range x {
			c := math.RoundToEven(float64(v) / float64(q.Scale[0]))
			c = math.Max(float64(q.QMin), math.Min(float64(q.QMax), c))
			b.WriteByte(byte(int8(int32(c) + q.ZeroPoint)))
		}
	case dtype.S1:
		c := t.Shape[len(t.Shape)-1]
		words := make([]uint32, len(x)/c*dtype.Words(c))
		for i, v := range x {
			if v < 0 {
				words[(i/c)*dtype.Words(c)+(i%c)/32] |= 1 << ((i % c) % 32)
			}
		}
		binary.Write(&b, binary.LittleEndian, words)
	}
	return b.Bytes()
}

// TestQuantizedIO compiles fixtures whose input is read by a quantizer with
// --quantized-io, feeds the already-quantized inputs and compares with the
// interpreter (outputs decoded from their storage type).
func TestQuantizedIO(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	for _, name := range []string{"qk_dense_bits", "lq_dense", "qk_conv"} {
		t.Run(name, func(t *testing.T) {
			g, err := keras.Load(filepath.Join(root, "testdata/models", name+".h5"), keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			xs, shape, err := validate.ReadNPY(filepath.Join(root, "testdata/models", name+".inputs.npy"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := compiler.Compile(g, compiler.Options{Name: name, QuantizedIO: true})
			if err != nil {
				t.Fatal(err)
			}
			lin, lout := res.Graph.Inputs[0], res.Graph.Outputs[0]
			if lin.Quant.DType == dtype.F32 {
				t.Fatalf("input stayed f32 with --quantized-io")
			}
			if !strings.Contains(string(res.Files[name+".h"]), fmt.Sprintf("int %s_run(const %s *input, %s *output);", name, lin.Quant.DType.CType(), lout.Quant.DType.CType())) {
				t.Errorf("header API does not use the quantized types")
			}
			dir := write(t, res.Files)
			inBytes, outBytes := lin.Quant.DType.Bytes(lin.Shape), lout.Quant.DType.Bytes(lout.Shape)
			src := strings.NewReplacer("MODEL", name, "INBYTES", fmt.Sprint(inBytes), "OUTBYTES", fmt.Sprint(outBytes),
				"INTYPE", lin.Quant.DType.CType(), "OUTTYPE", lout.Quant.DType.CType()).Replace(qioHarness)
			os.WriteFile(filepath.Join(dir, "main_harness.c"), []byte(src), 0o644)
			cs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
			if out, err := exec.Command("gcc", append([]string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-o", filepath.Join(dir, "run")}, append(cs, "-lm")...)...).CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			n := ir.NumElements(g.Inputs[0].Shape)
			samples := min(shape[0], 8)
			var in bytes.Buffer
			for s := 0; s < samples; s++ {
				in.Write(quantize(lin, xs[s*n:(s+1)*n]))
			}
			os.WriteFile(filepath.Join(dir, "in.bin"), in.Bytes(), 0o644)
			if out, err := exec.Command(filepath.Join(dir, "run"), filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin")).CombinedOutput(); err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "out.bin"))
			if len(raw) != samples*outBytes {
				t.Fatalf("got %d output bytes, want %d", len(raw), samples*outBytes)
			}
			for s := 0; s < samples; s++ {
				want, err := interp.Run(g, [][]float32{xs[s*n : (s+1)*n]})
				if err != nil {
					t.Fatal(err)
				}
				got := raw[s*outBytes : (s+1)*outBytes]
				if !bytes.Equal(got, quantize(lout, want[0])) && lout.Quant.DType != dtype.F32 {
					t.Errorf("sample %d: quantized output differs from the interpreter's", s)
				}
				if lout.Quant.DType == dtype.F32 {
					g32 := make([]float32, len(want[0]))
					binary.Read(bytes.NewReader(got), binary.LittleEndian, g32)
					for i := range g32 {
						if !close32(g32[i], want[0][i], false) {
							t.Errorf("sample %d element %d: %v vs %v", s, i, g32[i], want[0][i])
							break
						}
					}
				}
			}
		})
	}
}
