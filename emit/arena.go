// Where each tensor lives: arena offsets, the caller's input and output
// buffers, as C expressions.

package emit

import (
	"fmt"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/passes"
)

// ptr returns the C expression of a tensor's storage with the given C type.
func (e *emitter) ptr(t *ir.Tensor, write bool) (string, error) {
	b, ok := e.p.Buffers[t]
	if !ok {
		return "", fmt.Errorf("tensor %q has no planned storage", t.Name)
	}
	ct := t.Quant.DType.CType()
	cst := "const "
	if write {
		cst = ""
	}
	switch b.Kind {
	case passes.InInput:
		if e.m.Multi {
			return fmt.Sprintf("((const %s *)inputs[%d])", ct, b.Index), nil
		}
		return "input", nil
	case passes.InOutput:
		if e.m.Multi {
			return fmt.Sprintf("((%s *)outputs[%d])", ct, b.Index), nil
		}
		if write {
			return "output", nil
		}
		return fmt.Sprintf("((const %s *)output)", ct), nil
	}
	return fmt.Sprintf("((%s%s *)(arena + %d))", cst, ct, b.Offset), nil
}
