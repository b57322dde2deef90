package interp_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/quant"
)

// TestQuantMatchesValues checks, on every good fixture, that the storage
// types the importer declares are true: every kernel stored as s1/s8 is
// Scale·code exactly, and every s1/s8 activation tensor computed by the
// interpreter on the fixture inputs lies on its declared grid.
func TestQuantMatchesValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repo, "testdata/models/MANIFEST.json"))
	if err != nil {
		t.Fatalf("the model fixtures are part of the repository: %v", err)
	}
	var m struct{ Fixtures []fixture }
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	checked := map[dtype.DType]int{}
	for _, fx := range m.Fixtures {
		if fx.Error != nil {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			opt := keras.Options{}
			if fx.Weights != nil {
				opt.Weights = filepath.Join(repo, *fx.Weights)
			}
			g, err := keras.Load(filepath.Join(repo, fx.Model), opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				var kq ir.Quant
				var w ir.Weights
				switch a := n.Attrs.(type) {
				case *ir.DenseAttrs:
					kq, w = a.KernelQuant, a.Kernel
				case *ir.ConvAttrs:
					kq, w = a.KernelQuant, a.Kernel
					if n.Op == ir.OpDepthwiseConv { // scales are per output channel of the (kh·kw, in·mult) view
						w.Shape = []int{a.KernelH * a.KernelW, n.Outputs[0].Shape[2]}
					}
				default:
					continue
				}
				if kq.DType == dtype.F32 {
					continue
				}
				codes, err := quant.Codes(kq, w.Data, w.Shape[len(w.Shape)-1])
				if err != nil {
					t.Errorf("node %q: kernel declared %s: %v", n.Name, kq.DType, err)
					continue
				}
				for _, c := range codes {
					if kq.DType == dtype.S1 && c != 1 && c != -1 || kq.DType == dtype.S8 && (c < kq.QMin || c > kq.QMax) {
						t.Fatalf("node %q: kernel code %d outside the declared %s range [%d, %d]", n.Name, c, kq.DType, kq.QMin, kq.QMax)
					}
				}
				checked[kq.DType]++
			}
			var ins [][]float32
			for i, p := range fx.Inputs {
				d, _ := readNPY(t, filepath.Join(repo, p))
				ins = append(ins, d[:ir.NumElements(g.Inputs[i].Shape)])
			}
			trace, err := interp.RunTrace(g, ins)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				for _, o := range n.Outputs {
					q := o.Quant
					if q.DType == dtype.F32 {
						continue
					}
					ch := o.Shape[len(o.Shape)-1]
					for i, v := range trace[o.Name] {
						s := q.Scale[0]
						if len(q.Scale) > 1 {
							s = q.Scale[i%ch]
						}
						c := float32(math.RoundToEven(float64(v / s)))
						onGrid := c*s == v
						if q.Quantizer != nil && q.Quantizer.Class == "dorefa" {
							// DoReFa's value is code/n (a division), which can differ by
							// an ulp from Scale·code with Scale = fl32(1/n).
							n := float32(math.Round(float64(1 / s)))
							c = float32(math.RoundToEven(float64(v * n)))
							onGrid = c/n == v
						}
						ok := onGrid && (q.DType == dtype.S1 && (c == 1 || c == -1) || q.DType == dtype.S8 && c >= float32(q.QMin) && c <= float32(q.QMax))
						if !ok {
							t.Fatalf("tensor %q declared %s scale %g [%d, %d] holds %g at %d", o.Name, q.DType, s, q.QMin, q.QMax, v, i)
						}
					}
					checked[q.DType]++
				}
			}
		})
	}
	if checked[dtype.S1] == 0 || checked[dtype.S8] == 0 {
		t.Errorf("fixtures exercised no s1 or no s8 tensor/kernel: %v", checked)
	}
}
