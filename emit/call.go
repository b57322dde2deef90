// The kernel calls of NAME_run: one parameter struct and one call statement
// per lowered node.

package emit

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
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
	var args []string
	var pname string
	switch k.Kind {
	case ir.KindDense:
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_dense_params", pname, []string{"in_n", "out_n", "in_zp"}, map[string]string{
			"in_n": strconv.Itoa(k.Dense.InN), "out_n": strconv.Itoa(k.Dense.OutN), "in_zp": cInt(n.Inputs[0].Quant.ZeroPoint)}))
	case ir.KindConv2D, ir.KindPWConv2D, ir.KindDWConv2D:
		g := k.Conv
		padMode, padValue := "DQ_PAD_ZERO", float32(0)
		if g.PadValue != 0 {
			padMode, padValue = "DQ_PAD_VALUE", g.PadValue
			if k.In == dtype.S8 {
				q := n.Inputs[0].Quant
				padValue = float32(math.RoundToEven(float64(g.PadValue / q.Scale[0])))
			}
		}
		dm := 0
		if k.Kind == ir.KindDWConv2D {
			dm = g.DepthMultiplier
		}
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_conv_params", pname,
			[]string{"in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w", "dil_h", "dil_w", "pad_top", "pad_left", "pad_mode", "pad_value", "in_zp", "depth_multiplier", "conv_h", "conv_w", "pool_h", "pool_w", "pool_stride_h", "pool_stride_w"},
			map[string]string{"in_h": itoa(g.InH), "in_w": itoa(g.InW), "in_c": itoa(g.InC), "out_h": itoa(g.OutH), "out_w": itoa(g.OutW), "out_c": itoa(g.OutC),
				"k_h": itoa(g.KH), "k_w": itoa(g.KW), "stride_h": itoa(g.StrideH), "stride_w": itoa(g.StrideW), "dil_h": itoa(g.DilH), "dil_w": itoa(g.DilW),
				"pad_top": itoa(g.PadTop), "pad_left": itoa(g.PadLeft), "pad_mode": padMode, "pad_value": cFloat(padValue), "in_zp": cInt(n.Inputs[0].Quant.ZeroPoint),
				"depth_multiplier": itoa(dm), "conv_h": itoa(g.ConvH), "conv_w": itoa(g.ConvW), "pool_h": itoa(g.PoolH), "pool_w": itoa(g.PoolW),
				"pool_stride_h": itoa(g.PoolStrideH), "pool_stride_w": itoa(g.PoolStrideW)}))
	case ir.KindMaxPool, ir.KindAvgPool:
		pg := k.Pool
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_pool_params", pname,
			[]string{"in_h", "in_w", "c", "out_h", "out_w", "pool_h", "pool_w", "stride_h", "stride_w", "pad_top", "pad_left"},
			map[string]string{"in_h": itoa(pg.InH), "in_w": itoa(pg.InW), "c": itoa(pg.C), "out_h": itoa(pg.OutH), "out_w": itoa(pg.OutW),
				"pool_h": itoa(pg.PoolH), "pool_w": itoa(pg.PoolW), "stride_h": itoa(pg.StrideH), "stride_w": itoa(pg.StrideW), "pad_top": itoa(pg.PadTop), "pad_left": itoa(pg.PadLeft)}))
	case ir.KindConcat:
		cs := make([]int32, len(k.ConcatC))
		for j, v := range k.ConcatC {
			cs[j] = int32(v)
		}
		carr := e.intArray(base+"_c", cs, "channels of each input")
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_concat_params", pname, []string{"rows", "n", "c"},
			map[string]string{"rows": itoa(k.Rows), "n": itoa(len(cs)), "c": carr}))
	default: // element-wise: convert, affine, softmax, relu, tanh, sigmoid, add
		in, out := n.Inputs[0].Quant, n.Outputs[0].Quant
		scale, inv, zp, qmin, qmax := float32(1), float32(1), int32(0), int32(0), int32(0)
		switch {
		case k.Kind == ir.KindConvert && k.Out == dtype.S8:
			inv, zp, qmin, qmax = passes.InvScale(out.Scale[0]), out.ZeroPoint, out.QMin, out.QMax
			if k.In == dtype.S1 && len(in.Scale) > 0 {
				scale = in.Scale[0]
			}
		case k.In == dtype.S8:
			scale, zp = in.Scale[0], in.ZeroPoint
		case k.In == dtype.S1 && len(in.Scale) > 0:
			scale = in.Scale[0]
		}
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_elementwise_params", pname, []string{"rows", "c", "scale", "inv_scale", "zp", "q_min", "q_max"},
			map[string]string{"rows": itoa(k.Rows), "c": itoa(k.C), "scale": cFloat(scale), "inv_scale": cFloat(inv), "zp": cInt(zp), "q_min": cInt(qmin), "q_max": cInt(qmax)}))
	}
	args = append(args, "&"+pname)
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

func structDef(typ, name string, order []string, f map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "static const %s %s = {\n", typ, name)
	for _, k := range order {
		fmt.Fprintf(&b, "  .%s = %s,\n", k, f[k])
	}
	b.WriteString("};")
	return b.String()
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
