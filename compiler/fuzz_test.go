package compiler_test

import (
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/passes/passestest"
)

// FuzzCompile damages random models the way a buggy or hostile importer
// could (missing attributes, wrong shapes, truncated weights, odd ops) and
// checks that Compile returns an error or a library, never panics.
func FuzzCompile(f *testing.F) {
	for _, s := range [][]byte{{1, 0, 0}, {2, 1, 3}, {3, 2, 1, 4, 5}, {4, 3, 2}, {5, 4, 0, 6, 1}, {7, 5, 9}} {
		f.Add(s[0], s[1:])
	}
	f.Fuzz(func(t *testing.T, seed byte, muts []byte) {
		g := passestest.RandomModel(uint64(seed%32) + 1)
		for i := 0; i+1 < len(muts) && i < 8; i += 2 {
			n := g.Nodes[int(muts[i])%len(g.Nodes)]
			switch muts[i+1] % 7 {
			case 0:
				n.Attrs = nil
			case 1:
				if len(n.Outputs[0].Shape) > 0 {
					n.Outputs[0].Shape[0] += 1
				}
			case 2:
				switch a := n.Attrs.(type) {
				case *ir.DenseAttrs:
					a.Kernel.Data = a.Kernel.Data[:len(a.Kernel.Data)/2]
				case *ir.ConvAttrs:
					a.Kernel.Data = a.Kernel.Data[:len(a.Kernel.Data)/2]
				case *ir.BatchNormAttrs:
					a.Gamma = a.Gamma[:len(a.Gamma)/2]
				}
			case 3:
				n.Op = ir.OpConcat
			case 4:
				n.Outputs[0].Quant = ir.Quant{}
			case 5:
				if a, ok := n.Attrs.(*ir.ConvAttrs); ok {
					a.StrideH, a.KernelH = 0, 0
				}
			case 6:
				n.Inputs[0].Shape = []int{3}
			}
		}
		if err := g.Verify(); err != nil {
			return
		}
		compiler.Compile(g, compiler.Options{}) // an error is fine; a panic fails
	})
}
