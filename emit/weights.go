// Weights packed per the kernel contract (dq_types.h).

package emit

import (
	"fmt"
	"strconv"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// packWeights lays out weights per the kernel contract: rows along the
// last dimension of the kernel layout, s1 rows packed into words.
func (e *emitter) packWeights(base string, w *ir.KernelWeights) (string, error) {
	row := w.Shape[len(w.Shape)-1]
	rows := ir.NumElements(w.Shape) / row
	comment := fmt.Sprintf("%s %v", w.DType, w.Shape)
	switch w.DType {
	case dtype.S1:
		words := dtype.Words(row)
		out := make([]uint32, rows*words)
		for r := 0; r < rows; r++ {
			for i := 0; i < row; i++ {
				if w.Codes[r*row+i] < 0 {
					out[r*words+i/32] |= 1 << (i % 32)
				}
			}
		}
		return e.wordArray(base, out, comment+", packed rows (bit 1 = -1)"), nil
	case dtype.S8:
		s := make([]string, len(w.Codes))
		for i, c := range w.Codes {
			s[i] = strconv.Itoa(int(c))
		}
		return e.addArray("int8_t", base, wrap(s, 16), len(s), comment), nil
	case dtype.F32:
		if w.Data == nil {
			return "", fmt.Errorf("f32 weights without values")
		}
		return e.floatArray(base, w.Data, comment), nil
	}
	return "", fmt.Errorf("weights stored as %s", w.DType)
}
