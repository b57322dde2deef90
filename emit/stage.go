// Output stages (dq_output_stage): the kernel-level constants lowering
// derived, as arrays and one parameter struct per call.

package emit

import (
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

func (e *emitter) stage(base string, k *ir.KernelAttrs) (string, error) {
	st := k.Stage
	f := map[string]string{}
	mul, add := "NULL", "NULL"
	if st.Mul != nil && !allEq(st.Mul, 1) {
		mul = e.floatArray(base+"_mul", st.Mul, "output stage multiplier")
	}
	if st.Add != nil && !allEq(st.Add, 0) {
		add = e.floatArray(base+"_add", st.Add, "output stage offset")
	}
	f["mul"], f["add"] = mul, add
	act := "DQ_ACT_NONE"
	if st.Relu {
		act = "DQ_ACT_RELU"
	}
	f["act"] = act
	f["bn_sub"], f["bn_mul"], f["bn_add"] = "NULL", "NULL", "NULL"
	if st.BnMul != nil {
		f["bn_sub"] = e.floatArray(base+"_bn_sub", st.BnSub, "batch-norm "+st.BNName+": subtrahend")
		f["bn_mul"] = e.floatArray(base+"_bn_mul", st.BnMul, "batch-norm "+st.BNName+": multiplier")
		f["bn_add"] = e.floatArray(base+"_bn_add", st.BnAdd, "batch-norm "+st.BNName+": offset")
	}
	f["out_inv_scale"] = cFloat(st.OutInvScale)
	f["q_min"], f["q_max"], f["out_zp"] = cInt(st.QMin), cInt(st.QMax), cInt(st.OutZP)
	f["thr_i"] = e.intArray(base+"_thr", st.ThrI, "s1 output thresholds (integer accumulator)")
	f["thr_f"] = e.floatArray(base+"_thr", st.ThrF, "s1 output thresholds (float accumulator)")
	f["flip"] = "NULL"
	if st.Flip != nil {
		w := make([]uint32, dtype.Words(len(st.Flip)))
		for c, fl := range st.Flip {
			if fl {
				w[c/32] |= 1 << (c % 32)
			}
		}
		f["flip"] = e.wordArray(base+"_flip", w, "s1 output: bit c set = +1 iff acc <= thr")
	}
	name := e.m.Name + "_" + base + "_os"
	e.m.Params = append(e.m.Params, structDef("dq_output_stage", name, []string{"mul", "add", "act", "bn_sub", "bn_mul", "bn_add", "out_inv_scale", "q_min", "q_max", "out_zp", "thr_i", "thr_f", "flip"}, f))
	return name, nil
}

func allEq(v []float32, c float32) bool {
	for _, x := range v {
		if x != c || math.Signbit(float64(x)) != math.Signbit(float64(c)) {
			return false
		}
	}
	return true
}
