package keras

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/internal/hdf5"
	"github.com/dqnn/dqnn/ir"
)

// TestParamsMatchSavedWeights checks Params against the saved file: for
// every Keras 2 .h5 fixture, the parameters of the imported nodes add up to
// the number of values stored under /model_weights, which is what Keras's
// count_params reports (every weight, trainable or not; batch-norm layers
// with scale=False or center=False save no gamma or beta).
func TestParamsMatchSavedWeights(t *testing.T) {
	data, err := os.ReadFile("../testdata/models/MANIFEST.json")
	if err != nil {
		t.Fatalf("the model fixtures are part of the repository: %v", err)
	}
	var m struct {
		Fixtures []struct {
			Name, Model, Format string
			Weights             *string
			Error               *string
		}
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, fx := range m.Fixtures {
		if fx.Error != nil || fx.Weights != nil || filepath.Ext(fx.Model) != ".h5" {
			continue
		}
		path := filepath.Join("..", fx.Model)
		f, err := hdf5.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Root().IsGroup("model_weights") {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			g, err := Load(path, Options{})
			if err != nil {
				t.Skipf("not importable (covered elsewhere): %v", err)
			}
			for _, n := range g.Nodes {
				if n.Class == "QConv2DBatchnorm" || n.Class == "QDenseBatchnorm" || n.Class == "QDepthwiseConv2DBatchnorm" {
					t.Skip("folded batch-norm layers also save training counters")
				}
			}
			root, _ := f.Root().Group("model_weights")
			saved := 0
			for _, p := range datasetsBelow(root, "") {
				d, err := root.Dataset(p)
				if err != nil {
					t.Fatal(err)
				}
				saved += ir.NumElements(d.Shape())
			}
			got := 0
			for _, n := range g.Nodes {
				got += Params(n)
			}
			if got != saved {
				t.Errorf("Params sum to %d, the file saves %d values", got, saved)
			}
		})
		checked++
	}
	if checked == 0 {
		t.Fatal("no .h5 fixture with /model_weights")
	}
}
