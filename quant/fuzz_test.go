package quant

import (
	"testing"

	"github.com/dqnn/dqnn/ir"
)

// FuzzQuantizerString parses arbitrary quantizer strings and, when they
// parse, applies them: neither step may panic, and a parsed quantizer must
// keep the text it was parsed from and have a form.
func FuzzQuantizerString(f *testing.F) {
	for _, s := range []string{
		"quantized_bits(8,0,1,alpha=1)", "quantized_bits(4,0,alpha='auto_po2')", "quantized_bits(3, 1, keep_negative=False)",
		"quantized_relu(6,2)", "quantized_tanh(8, symmetric=True)", "binary", "binary(alpha=1)", "binary(alpha=\"auto\")",
		"stochastic_binary(alpha=1)", "ternary(threshold=0.5)", "ternary(alpha='auto_po2')", "quantized_po2(4, 1)",
		"quantized_relu_po2(6, 2048)", "quantized_relu_po2(6, quadratic_approximation=True)", "ste_sign", "DoReFa(k_bit=8)",
		"DoReFa(k_bit=2, mode=\"weights\")", "ste_tern(ternary_weight_networks=True)", "magnitude_aware_sign",
		"quantized_bits([1 2],)", "quantized_bits(,)", "binary(alpha=None, use_01=true)", "quantized_bits(1e9)",
	} {
		f.Add(s)
	}
	x := []float32{-3, -1, -0.5, -0.0, 0, 1e-8, 0.33, 0.5, 0.75, 1, 2048, 1e30}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseString(s)
		if err != nil {
			return
		}
		if q.Text != s {
			t.Fatalf("Text = %q, want %q", q.Text, s)
		}
		switch f := q.Form.(type) {
		case nil:
			t.Fatalf("%q parsed to no form", s)
		case ir.Uniform:
			_, _ = f.Range()
			_ = f.TieStep()
		case ir.Ternary:
			_ = f.Inexact()
		case ir.PowerOfTwo:
			_, _ = f.Range()
		}
		for _, shape := range [][]int{{12}, {3, 4}, {2, 2, 3}} {
			out, err := Apply(q, x, shape)
			if err == nil && len(out) != len(x) {
				t.Fatalf("Apply returned %d values for %d", len(out), len(x))
			}
			_, _ = Apply(ForKernel(q), x, shape)
		}
		_ = CheckActivation(q)
		_ = OutputQuant(q)
		if out, err := Apply(ForKernel(q), x, []int{3, 4}); err == nil {
			_ = KernelQuant(ForKernel(q), out, []int{3, 4})
		}
		_ = Canonical(q)
	})
}
