package ref

import (
	"fmt"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TakesWeightSums reports whether kernel k reads the w_sum field of its
// parameters (dq_dense_params / dq_conv_params): s8 input x s8 or s1
// weights, dense, conv2d and pointwise.
func TakesWeightSums(k matrix.Kernel) bool {
	return k.In == dtype.S8 && (k.W == dtype.S8 || k.W == dtype.S1) &&
		(k.Op == matrix.Dense || k.Op == matrix.Conv2D || k.Op == matrix.PWConv2D)
}

// WeightSums is the w_sum parameter of a kernel with s8 or s1 weights: for
// each of the rows output channels, whose weights are taps rows of c
// values (dense: one tap of in_n; conv2d and pointwise: OHWI, k_h * k_w
// taps of in_c; s1 rows packed per tap as the kernels read them),
//
//	w_sum[o] = sum over its taps x c weights of w (s8: the code; s1: +1 or -1)
//
// the dot product's zero-point correction being -in_zp * w_sum[o]
// (Σ (q - zp) w = Σ q w - zp Σ w, modulo 2^32 like the kernels' int32
// sums; s1: w_sum = taps * c - 2 * the set bits). The model compiler
// computes the same sums (emit).
func WeightSums(w Buf, rows, taps, c int) ([]int32, error) {
	s := make([]int32, rows)
	switch w.T {
	case dtype.S8:
		n := taps * c
		if err := need("weights", len(w.S8), rows*n); err != nil {
			return nil, err
		}
		for o := range s {
			for _, v := range w.S8[o*n : (o+1)*n] {
				s[o] += int32(v)
			}
		}
	case dtype.S1:
		words := dtype.Words(c)
		if err := need("weights", len(w.S1), rows*taps*words); err != nil {
			return nil, err
		}
		for o := range s {
			for t := 0; t < taps; t++ {
				for i := 0; i < c; i++ {
					s[o] += 1 - 2*int32(Bit(w.S1, (o*taps+t)*words, i))
				}
			}
		}
	default:
		return nil, fmt.Errorf("weight sums of %s weights", w.T)
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
		return WeightSums(c.Weights, int(c.Dense.OutN), 1, int(c.Dense.InN))
	case c.Conv != nil:
		return WeightSums(c.Weights, int(c.Conv.OutC), int(c.Conv.KH*c.Conv.KW), int(c.Conv.InC))
	}
	return nil, fmt.Errorf("%s: no dense or conv parameters", k.Name())
}
