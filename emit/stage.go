// Output stages (dq_output_stage): the kernel-level constants lowering
// derived, as arrays and one parameter struct per call.

package emit

import (
	"math"

	"github.com/dqnn/dqnn/gen/cparams"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// stage adds the arrays and the dq_output_stage of k's output stage and
// returns the struct's name. A multiplier of all 1 and an offset of all 0
// are left out (NULL): the kernels skip them.
func (e *emitter) stage(base string, k *ir.KernelAttrs) (string, error) {
	st := k.Stage
	var os cparams.OutputStage
	if st.Mul != nil && !allEq(st.Mul, 1) {
		os.Mul = cparams.FloatArray(e.floatArray(base+"_mul", st.Mul, "output stage multiplier"))
	}
	if st.Add != nil && !allEq(st.Add, 0) {
		os.Add = cparams.FloatArray(e.floatArray(base+"_add", st.Add, "output stage offset"))
	}
	if st.Relu {
		os.Act = cparams.ActRelu
	}
	if st.BnMul != nil {
		os.BnSub = cparams.FloatArray(e.floatArray(base+"_bn_sub", st.BnSub, "batch-norm "+st.BNName+": subtrahend"))
		os.BnMul = cparams.FloatArray(e.floatArray(base+"_bn_mul", st.BnMul, "batch-norm "+st.BNName+": multiplier"))
		os.BnAdd = cparams.FloatArray(e.floatArray(base+"_bn_add", st.BnAdd, "batch-norm "+st.BNName+": offset"))
	}
	os.OutInvScale, os.QMin, os.QMax, os.OutZP = st.OutInvScale, st.QMin, st.QMax, st.OutZP
	os.ThrI = cparams.Int32Array(e.intArray(base+"_thr", st.ThrI, "s1 output thresholds (integer accumulator)"))
	os.ThrF = cparams.FloatArray(e.floatArray(base+"_thr", st.ThrF, "s1 output thresholds (float accumulator)"))
	if st.Flip != nil {
		w := make([]uint32, dtype.Words(len(st.Flip)))
		for c, fl := range st.Flip {
			if fl {
				w[c/32] |= 1 << (c % 32)
			}
		}
		os.Flip = cparams.WordArray(e.wordArray(base+"_flip", w, "s1 output: bit c set = +1 iff acc <= thr"))
	}
	return e.define(base+"_os", os)
}

func allEq(v []float32, c float32) bool {
	for _, x := range v {
		if x != c || math.Signbit(float64(x)) != math.Signbit(float64(c)) {
			return false
		}
	}
	return true
}
