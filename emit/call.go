// The kernel calls of NAME_run: one call statement per lowered node, with
// its parameter struct (params.go), weights and output stage.

package emit

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// call renders node i: an alias as a comment, a kernel as its parameter
// struct, its data arrays and the call statement.
func (e *emitter) call(i int, n *ir.Node) (Call, error) {
	c := Call{}
	base := fmt.Sprintf("l%d", i)
	for _, t := range n.Outputs {
		ptr, err := e.ptr(t, false)
		if err != nil {
			return c, err
		}
		c.Trace = append(c.Trace, Trace{Tensor: t.Name, DType: dtypeCode(t.Quant.DType), Ptr: ptr, Bytes: t.Quant.DType.Bytes(t.Shape)})
	}
	if n.Op == ir.OpAlias {
		c.Comment = fmt.Sprintf("%s: %s is %s (no copy)", n.Name, n.Outputs[0].Name, n.Inputs[0].Name)
		return c, nil
	}
	k, _ := n.Attrs.(*ir.KernelAttrs)
	if k == nil || k.Name == "" {
		return c, fmt.Errorf("kernel call without a selected kernel")
	}
	e.used[k.Name] = true
	c.Comment = fmt.Sprintf("%s: %s", strings.Join(k.Fused, " + "), k.Name)
	pname, err := e.params(base, n, k)
	if err != nil {
		return c, err
	}
	args := []string{"&" + pname}
	// Inputs.
	if k.Kind == ir.KindConcat {
		arr := e.m.Name + "_" + base + "_in"
		var ps []string
		for _, t := range n.Inputs {
			p, err := e.ptr(t, false)
			if err != nil {
				return c, err
			}
			ps = append(ps, p)
		}
		op, err := e.ptr(n.Outputs[0], true)
		if err != nil {
			return c, err
		}
		c.Stmt = fmt.Sprintf("{\n    const %s *const %s[%d] = { %s };\n    st = %s(&%s, %s, %s);\n    if (st != DQ_OK) return (int)st;\n  }",
			k.In.CType(), arr, len(ps), strings.Join(ps, ", "), k.Name, pname, arr, op)
		return c, nil
	}
	for _, t := range n.Inputs {
		p, err := e.ptr(t, false)
		if err != nil {
			return c, err
		}
		args = append(args, p)
	}
	if k.Weights != nil {
		w, err := e.packWeights(base+"_w", k.Weights)
		if err != nil {
			return c, err
		}
		args = append(args, w)
	}
	if k.Stage != nil {
		os, err := e.stage(base, k)
		if err != nil {
			return c, err
		}
		args = append(args, "&"+os)
	}
	op, err := e.ptr(n.Outputs[0], true)
	if err != nil {
		return c, err
	}
	args = append(args, op)
	c.Stmt = fmt.Sprintf("st = %s(%s);\n  if (st != DQ_OK) return (int)st;", k.Name, strings.Join(args, ", "))
	return c, nil
}

func dtypeCode(t dtype.DType) int {
	switch t {
	case dtype.F32:
		return 1
	case dtype.S8:
		return 2
	case dtype.S1:
		return 3
	}
	return 0
}
