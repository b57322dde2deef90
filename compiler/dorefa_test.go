package compiler_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/passes/passestest"
	"github.com/dqnn/dqnn/quant"
)

// TestDoReFaActivationExact feeds a Larq DoReFa(k_bit=8) activation every
// code q/255, values a few ulps around each rounding tie (q+0.5)/255, and
// out-of-range values, and requires the C outputs to equal the
// interpreter's (Keras's fl32(q/255)) bit for bit with no inexact note.
// An s8 grid q·fl32(1/255) differs from q/255 for 126 of the 256 codes.
func TestDoReFaActivationExact(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	qz, err := quant.Parse(map[string]any{"class_name": "DoReFa", "config": map[string]any{"k_bit": 8.0, "mode": "activations"}})
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	for q := 0; q <= 255; q++ {
		x = append(x, float32(q)/255)
		v := float32((float64(q) + 0.5) / 255)
		for i := 0; i < 3; i++ {
			v = math.Nextafter32(v, 0)
		}
		for i := 0; i < 7; i++ {
			x = append(x, v)
			v = math.Nextafter32(v, 2)
		}
	}
	x = append(x, -1, float32(math.Copysign(0, -1)), 1.5, 1e30, -1e30)
	n := len(x)
	b := passestest.New("dorefa", 1, n)
	b.Quantize("q", quant.OutputQuant(qz))
	g := b.Done()
	res, err := compiler.Compile(g, compiler.Options{Name: "dorefa"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Inexact) != 0 {
		t.Errorf("reported inexact: %+v", res.Report.Inexact)
	}
	dir := t.TempDir()
	for fn, bb := range res.Files {
		os.WriteFile(filepath.Join(dir, fn), bb, 0o644)
	}
	got, _ := buildAndRun(t, dir, "dorefa", g, [][]float32{x}, 1, false)
	want, err := interp.Run(g, [][]float32{x})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range x {
		if got[0][i] != want[0][i] { // == : -0 and +0 agree (no later op tells them apart)
			if bad < 5 {
				t.Errorf("x=%v (%08x): C %v, interp %v", x[i], math.Float32bits(x[i]), got[0][i], want[0][i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d outputs differ", bad, n)
	}
}
