// Parameter structs: each kernel call's geometry and quantization constants
// as the gen/cparams value of its family.

package emit

import (
	"math"

	"github.com/dqnn/dqnn/gen/cparams"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
)

// params adds the parameter struct of kernel call n (and the arrays it
// points to) and returns the struct's name.
func (e *emitter) params(base string, n *ir.Node, k *ir.KernelAttrs) (string, error) {
	in := n.Inputs[0].Quant
	var p cparams.Params
	switch {
	case k.Kind == ir.KindDense:
		p = cparams.Dense{InN: int32(k.Dense.InN), OutN: int32(k.Dense.OutN), InZP: in.ZeroPoint, WSum: e.weightSumsArray(base, n, k)}
	case k.Kind.IsConv():
		c := convParams(k, in)
		c.WSum = e.weightSumsArray(base, n, k)
		p = c
	case k.Kind.IsPool():
		g := k.Pool
		p = cparams.Pool{InH: int32(g.InH), InW: int32(g.InW), C: int32(g.C), OutH: int32(g.OutH), OutW: int32(g.OutW),
			PoolH: int32(g.PoolH), PoolW: int32(g.PoolW), StrideH: int32(g.StrideH), StrideW: int32(g.StrideW), PadTop: int32(g.PadTop), PadLeft: int32(g.PadLeft)}
	case k.Kind == ir.KindConcat:
		cs := make([]int32, len(k.ConcatC))
		for j, v := range k.ConcatC {
			cs[j] = int32(v)
		}
		c := cparams.Int32Array(e.intArray(base+"_c", cs, "channels of each input"))
		p = cparams.Concat{Rows: int32(k.Rows), N: int32(len(cs)), C: c}
	default: // element-wise: convert, affine, softmax, relu, tanh, sigmoid, add
		p = elementwiseParams(k, in, n.Outputs[0].Quant)
	}
	return e.define(base+"_p", p)
}

// convParams is dq_conv_params of a conv2d, pwconv2d or dwconv2d call. A
// Larq pad value reaches an s8 kernel as a code on the input's grid.
func convParams(k *ir.KernelAttrs, in ir.Quant) cparams.Conv {
	g := k.Conv
	padMode, padValue := cparams.PadZero, float32(0)
	if g.PadValue != 0 {
		padMode, padValue = cparams.PadValue, g.PadValue
		if k.In == dtype.S8 {
			padValue = float32(math.RoundToEven(float64(g.PadValue / in.Scale[0])))
		}
	}
	dm := 0
	if k.Kind == ir.KindDWConv2D {
		dm = g.DepthMultiplier
	}
	return cparams.Conv{InH: int32(g.InH), InW: int32(g.InW), InC: int32(g.InC), OutH: int32(g.OutH), OutW: int32(g.OutW), OutC: int32(g.OutC),
		KH: int32(g.KH), KW: int32(g.KW), StrideH: int32(g.StrideH), StrideW: int32(g.StrideW), DilH: int32(g.DilH), DilW: int32(g.DilW),
		PadTop: int32(g.PadTop), PadLeft: int32(g.PadLeft), PadMode: padMode, PadValue: padValue, InZP: in.ZeroPoint,
		DepthMultiplier: int32(dm), ConvH: int32(g.ConvH), ConvW: int32(g.ConvW), PoolH: int32(g.PoolH), PoolW: int32(g.PoolW),
		PoolStrideH: int32(g.PoolStrideH), PoolStrideW: int32(g.PoolStrideW)}
}

// elementwiseParams is dq_elementwise_params: the input's grid for calls
// reading s8 (or a scaled s1), the output's for conversions to s8.
func elementwiseParams(k *ir.KernelAttrs, in, out ir.Quant) cparams.Elementwise {
	p := cparams.Elementwise{Rows: int32(k.Rows), C: int32(k.C), Scale: 1, InvScale: 1}
	switch {
	case k.Kind == ir.KindConvert && k.Out == dtype.S8:
		p.InvScale, p.ZP, p.QMin, p.QMax = passes.InvScale(out.Scale[0]), out.ZeroPoint, out.QMin, out.QMax
		if k.In == dtype.S1 && len(in.Scale) > 0 {
			p.Scale = in.Scale[0]
		}
	case k.In == dtype.S8:
		p.Scale, p.ZP = in.Scale[0], in.ZeroPoint
	case k.In == dtype.S1 && len(in.Scale) > 0:
		p.Scale = in.Scale[0]
	}
	return p
}

// define adds the static const definition of p, named NAME_<base>, and
// returns the name.
func (e *emitter) define(base string, p cparams.Params) (string, error) {
	name := e.m.Name + "_" + base
	def, err := cparams.Define(name, p)
	if err != nil {
		return "", err
	}
	e.m.Params = append(e.m.Params, def)
	return name, nil
}

// weightSumsArray writes the weight sums of call n (see weightSums) and
// returns their array, or "" (NULL) when the kernel takes none.
func (e *emitter) weightSumsArray(base string, n *ir.Node, k *ir.KernelAttrs) cparams.Int32Array {
	ws := weightSums(n, k)
	if ws == nil {
		return ""
	}
	return cparams.Int32Array(e.intArray(base+"_wsum", ws, "weight sums (zero-point correction)"))
}
