// QKeras folded layers (*Batchnorm): the batch-norm folded into the kernel.

package keras

import (
	"fmt"
	"math"
)

// storedFold reports whether l is a QDepthwiseConv2DBatchnorm or
// QConv2DBatchnorm saved by a QKeras version that keeps its folded weights
// (folded_[depthwise_]kernel_quantized, folded_bias_quantized: up to 0.9.0,
// the PyPI release) and computes with them at inference; later versions
// save no such weights and refold on every call.
func (b *builder) storedFold(l *layer) bool {
	name := storedFoldKernel[l.class]
	if name == "" || b.w == nil {
		return false
	}
	if _, ok := b.w.(filled); ok {
		return false
	}
	arrays, err := b.w.layer(l)
	if err != nil {
		return false // reported when the weights are read
	}
	for _, a := range arrays {
		if a.base() == name {
			return true
		}
	}
	return false
}

// storedFoldKernel names the stored folded kernel of the QKeras folded
// layers whose 0.9.0 release (PyPI) computes inference with the weights
// training stored.
var storedFoldKernel = map[string]string{
	"QDepthwiseConv2DBatchnorm": "folded_depthwise_kernel_quantized",
	"QConv2DBatchnorm":          "folded_kernel_quantized",
}

// foldedWeights reads a weight layer's kernel (and bias). For QKeras's
// folded layers (QDenseBatchnorm, QConv2DBatchnorm, QDepthwiseConv2DBatchnorm
// without stored folded weights: its (kh, kw, in, mult) kernel's flat index
// modulo in·mult is the output channel, as reshape(inv, [in, mult])
// broadcasts) it also reads the
// batch-norm parameters and folds them the way their call() does at
// inference (training=False, either folding_mode):
//
//	inv = rsqrt(moving_variance + eps) · gamma
//	kernel' = inv · kernel (per output channel), bias' = inv · (bias − moving_mean) + beta
//
// The kernel and bias quantizers are then applied to kernel' and bias' by
// the caller; the result always has a bias.
func (b *builder) foldedWeights(l *layer, c cfg, want []string, shapes [][]int, outC int) ([][]float32, error) {
	if b.storedFold(l) {
		// QKeras <= 0.9.0 folded conv layers: call() with
		// training=False uses the folded, already quantized kernel and
		// bias that training stored, not a fold of the BN statistics.
		return b.weights(l, []string{storedFoldKernel[l.class], "folded_bias_quantized"}, [][]int{shapes[0], {outC}})
	}
	if layerClasses[l.class].absorbs&absorbsBatchNorm == 0 {
		return b.weights(l, want, shapes)
	}
	// The batch-norm axis counts the batch: the output rank is the kernel's
	// rank - 1 for a conv (kh,kw,in,out → N,H,W,C) and 2 for a dense layer.
	outRank := len(shapes[0]) - 1
	if len(shapes[0]) == 2 {
		outRank = 1
	}
	if err := lastAxis(c, "axis", outRank); err != nil {
		return nil, err
	}
	if m, _ := c.str("folding_mode", "ema_stats_folding"); m != "ema_stats_folding" && m != "batch_stats_folding" {
		return nil, fmt.Errorf("argument folding_mode=%q is not supported (want ema_stats_folding or batch_stats_folding)", m)
	}
	eps, center, scale, err := bnArgs(c)
	if err != nil {
		return nil, err
	}
	hasBias := len(want) == 2
	all := append([]string(nil), want...)
	allShapes := append([][]int(nil), shapes...)
	for _, n := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		if n == "gamma" && !scale || n == "beta" && !center {
			continue
		}
		all, allShapes = append(all, n), append(allShapes, []int{outC})
	}
	ws, err := b.weights(l, all, allShapes)
	if err != nil {
		return nil, err
	}
	kernel := ws[0]
	if kernel == nil { // architecture only
		return [][]float32{nil, nil}, nil
	}
	get := func(n string) []float32 {
		for i, w := range all {
			if w == n {
				return ws[i]
			}
		}
		return nil
	}
	gamma, beta, mean, variance := get("gamma"), get("beta"), get("moving_mean"), get("moving_variance")
	inv := make([]float32, outC)
	bias := make([]float32, outC)
	for ch := range inv {
		inv[ch] = float32(1 / float32(math.Sqrt(float64(float32(variance[ch]+float32(eps))))))
		if gamma != nil {
			inv[ch] = float32(inv[ch] * gamma[ch])
		}
		bv := float32(0)
		if hasBias {
			bv = ws[1][ch]
		}
		bias[ch] = float32(inv[ch] * float32(bv-mean[ch]))
		if beta != nil {
			bias[ch] = float32(bias[ch] + beta[ch])
		}
	}
	folded := make([]float32, len(kernel))
	for i, v := range kernel {
		folded[i] = float32(inv[i%outC] * v)
	}
	return [][]float32{folded, bias}, nil
}
