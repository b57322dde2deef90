package ref

import (
	"fmt"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TakesWeightSums reports whether kernel k reads the w_sum field of its
// parameters (dq_dense_params / dq_conv_params): s8 input x s8 weights,
// dense, conv2d and pointwise.
func TakesWeightSums(k matrix.Kernel) bool {
	return k.In == dtype.S8 && k.W == dtype.S8 &&
		(k.Op == matrix.Dense || k.Op == matrix.Conv2D || k.Op == matrix.PWConv2D)
}

// WeightSums is the w_sum parameter of a kernel with s8 weights: for each
// of the rows weight rows of n codes in w (dense: [out_n][in_n]; conv2d and
// pointwise: OHWI, n = k_h * k_w * in_c),
//
//	w_sum[o] = sum over j < n of w[o][j]
//
// the dot product's zero-point correction being -in_zp * w_sum[o]
// (Σ (q - zp) w = Σ q w - zp Σ w, modulo 2^32 like the kernels' int32
// sums). The model compiler computes the same sums (emit).
func WeightSums(w Buf, rows, n int) ([]int32, error) {
	if w.T != dtype.S8 {
		return nil, fmt.Errorf("weight sums of %s weights", w.T)
	}
	if err := need("weights", len(w.S8), rows*n); err != nil {
		return nil, err
	}
	s := make([]int32, rows)
	for o := range s {
		for _, c := range w.S8[o*n : (o+1)*n] {
			s[o] += int32(c)
		}
	}
	return s, nil
}

// CaseWeightSums returns the w_sum of case c if its kernel k takes them.
func CaseWeightSums(k matrix.Kernel, c *Case) ([]int32, error) {
	if !TakesWeightSums(k) {
		return nil, nil
	}
	switch {
	case c.Dense != nil:
		return WeightSums(c.Weights, int(c.Dense.OutN), int(c.Dense.InN))
	case c.Conv != nil:
		return WeightSums(c.Weights, int(c.Conv.OutC), int(c.Conv.KH*c.Conv.KW*c.Conv.InC))
	}
	return nil, fmt.Errorf("%s: no dense or conv parameters", k.Name())
}
