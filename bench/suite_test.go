package bench

import (
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
)

// The CMSIS-NN figures are quoted in issue #14 as totals; the table must
// add up to them, and name RN07's real layers in order.
func TestCMSISNNRN07(t *testing.T) {
	t.Parallel()
	for cpu, want := range map[target.CPU]uint64{target.CortexM4: 17211811, target.CortexM55: 3259881} {
		if got := CMSISNNRN07.Total(cpu); got != want {
			t.Errorf("%s: layers sum to %d, want the measured total %d", cpu, got, want)
		}
	}
	if got := CMSISNNRN07.Total(target.CortexM7); got != 0 {
		t.Errorf("cortex-m7 (not measured): total %d, want 0", got)
	}
	path := sharedmodels.Require(t, "qkeras", "mlperf-tiny-v0.7", "RN07_model_best.h5")
	g, err := keras.Load(path, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range g.Nodes {
		if n.Op == ir.OpConv2D || n.Op == ir.OpDense {
			names = append(names, n.Name)
		}
	}
	if len(names) != len(CMSISNNRN07.Layers) {
		t.Fatalf("RN07 has %d conv/dense layers %q, the reference %d", len(names), names, len(CMSISNNRN07.Layers))
	}
	for i, l := range CMSISNNRN07.Layers {
		if names[i] != l.Layer {
			t.Errorf("reference layer %d is %q, RN07's is %q", i, l.Layer, names[i])
		}
	}
}

func TestReferenceFor(t *testing.T) {
	t.Parallel()
	ref := &Reference{Layers: []ReferenceLayer{
		{Layer: "a", Counts: map[target.CPU]uint64{target.CortexM4: 100}},
		{Layer: "b", Counts: map[target.CPU]uint64{target.CortexM4: 200}},
	}}
	r := &ModelReport{Layers: []LayerCost{{Layer: "a"}, {Layer: "b"}, {Layer: "b"}, {Layer: "c"}}}
	got := ReferenceFor(ref, r, target.CortexM4)
	want := []uint64{100, 200, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %d, want %d (all %v)", i, got[i], want[i], got)
		}
	}
	if got := ReferenceFor(nil, r, target.CortexM4); len(got) != 4 || got[0] != 0 {
		t.Errorf("no reference: %v", got)
	}
	if Ratio(78, 100) != "0.78×" || Ratio(1, 0) != "" {
		t.Errorf("Ratio: %q %q", Ratio(78, 100), Ratio(1, 0))
	}
}
