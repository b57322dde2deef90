// Batch normalization: BatchNormalization, QBatchNormalization.

package keras

import (
	"fmt"
	"slices"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

func (b *builder) batchNorm(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) == 0 {
		return nil, fmt.Errorf("input has no channel axis")
	}
	if err := lastAxis(c, "axis", len(b.kerasShape(in))); err != nil {
		return nil, err
	}
	eps, center, scale, err := bnArgs(c)
	if err != nil {
		return nil, err
	}
	if r, _ := c.boolean("renorm", false); r {
		return nil, fmt.Errorf("argument renorm=True is not supported")
	}
	C := in.Shape[len(in.Shape)-1]
	var want []string
	if scale {
		want = append(want, "gamma")
	}
	if center {
		want = append(want, "beta")
	}
	want = append(want, "moving_mean", "moving_variance")
	shapes := make([][]int, len(want))
	for i := range shapes {
		shapes[i] = []int{C}
	}
	ws, err := b.weights(l, want, shapes)
	if err != nil {
		return nil, err
	}
	get := func(name string) []float32 {
		for i, w := range want {
			if w == name {
				return ws[i]
			}
		}
		return nil
	}
	// tf-keras uses fused_batch_norm for rank-4/5 inputs unless fused=False;
	// Keras 3 and QBatchNormalization always use the unfused formula.
	rank := len(b.kerasShape(in))
	fused := l.class == "BatchNormalization" && !b.m.keras3 && (rank == 3 || rank == 4)
	if f, ok := c["fused"].(bool); ok && !f {
		fused = false
	}
	if vb, ok := c["virtual_batch_size"].(float64); ok && vb > 0 {
		fused = false
	}
	a := &ir.BatchNormAttrs{Mean: get("moving_mean"), Variance: get("moving_variance"), Epsilon: float32(eps), Fused: fused, NoGamma: !scale, NoBeta: !center}
	a.Gamma, a.Beta = get("gamma"), get("beta")
	if b.w != nil {
		if !scale {
			a.Gamma = fill(C, 1)
		}
		if !center {
			a.Beta = fill(C, 0)
		}
	}
	if l.class == "QBatchNormalization" {
		if err := qbnParams(c, a, scale, center, b.w != nil); err != nil {
			return nil, err
		}
	}
	return b.add(l.name, l.class, ir.OpBatchNorm, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), a), nil
}

// qbnDefaults are QBatchNormalization's constructor defaults, used when the
// config lacks the key (a null value means "no quantizer").
var qbnDefaults = map[string]string{
	"gamma_quantizer":    "quantized_relu_po2(6, 2048)",
	"beta_quantizer":     "quantized_po2(5)",
	"mean_quantizer":     "quantized_po2(5)",
	"variance_quantizer": "quantized_relu_po2(6, quadratic_approximation=True)",
}

func qbnParams(c cfg, a *ir.BatchNormAttrs, scale, center, haveWeights bool) error {
	if c.has("inverse_quantizer") {
		return fmt.Errorf("argument inverse_quantizer is not supported; set it to None")
	}
	keys := []string{"gamma_quantizer", "beta_quantizer", "mean_quantizer", "variance_quantizer"}
	params := []*[]float32{&a.Gamma, &a.Beta, &a.Mean, &a.Variance}
	use := []bool{scale, center, true, true}
	for i, k := range keys {
		v, present := c[k]
		if !present {
			v = qbnDefaults[k]
		}
		q, err := quant.Parse(v)
		if err != nil {
			return fmt.Errorf("argument %s: %w", k, err)
		}
		if q == nil || !use[i] || !haveWeights {
			continue
		}
		out, err := quant.Apply(q, *params[i], []int{len(*params[i])})
		if err != nil {
			return fmt.Errorf("argument %s: %w", k, err)
		}
		*params[i] = out
	}
	return nil
}

// bnArgs reads the batch-norm arguments BatchNormalization and the folded
// QKeras layers share: epsilon, center and scale, with Keras's defaults.
func bnArgs(c cfg) (eps float64, center, scale bool, err error) {
	if eps, err = c.float("epsilon", 1e-3); err != nil {
		return
	}
	if center, err = c.boolean("center", true); err != nil {
		return
	}
	scale, err = c.boolean("scale", true)
	return
}
