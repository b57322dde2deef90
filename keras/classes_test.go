package keras

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
)

// notSupported reports whether err is the importer's refusal of a layer
// class as such (not of one of its arguments).
func notSupported(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "is not supported; supported classes:") || strings.Contains(err.Error(), "nested models are not supported"))
}

// TestLayerTable checks that the importer converts exactly the classes
// supported lists: every class of the table reaches its converter (which
// may then refuse the empty config, but not the class), and every other
// class (Keras classes dqnn does not read among them) is refused as a class.
func TestLayerTable(t *testing.T) {
	unlisted := []string{"LSTM", "Multiply", "Subtract", "Conv3D", "Conv2DTranspose", "UpSampling2D", "Cropping2D",
		"Lambda", "SpatialDropout1D", "LayerNormalization", "Sequential", "Functional", "Model", "Dropout2D", "dense"}
	for _, class := range append(slices.Clone(supported), unlisted...) {
		if class == "InputLayer" {
			continue // read by the model builder, never converted
		}
		cls := layerClasses[class]
		b := &builder{file: "m.json", m: &model{}, g: &ir.Graph{}, out: map[string]*ir.Tensor{}, wholePools: map[string]bool{},
			zeroPads: map[*ir.Tensor]*zeroPad{}, oneD: map[*ir.Tensor]bool{}, expanded: map[*ir.Tensor]*ir.Tensor{}}
		shape := []int{8}
		switch {
		case cls.input2D:
			shape = []int{6, 6, 4}
		case cls.oneD != "":
			shape = []int{8, 4}
		}
		ins := []*ir.Tensor{{Name: "x", Shape: shape, Quant: ir.Float()}}
		if cls.merge {
			ins = append(ins, &ir.Tensor{Name: "y", Shape: shape, Quant: ir.Float()})
		}
		_, err := b.convert(&layer{class: class, name: "l", config: map[string]any{"name": "l"}}, ins)
		listed := slices.Contains(supported, class)
		if listed && notSupported(err) {
			t.Errorf("%s is listed as supported but refused: %v", class, err)
		}
		if !listed && !notSupported(err) {
			t.Errorf("%s is not listed as supported but accepted (err = %v)", class, err)
		}
		if !listed && !strings.Contains(err.Error(), "nested") && !strings.Contains(err.Error(), "supported classes: "+strings.Join(supported, ", ")) {
			t.Errorf("%s: the refusal does not list the supported classes: %v", class, err)
		}
	}
	for c, cls := range layerClasses {
		if (cls.convert == nil) == (cls.oneD == "") {
			t.Errorf("%s: a class has a converter or runs as a 2-D class (oneD), not both", c)
		}
		if cls.oneD != "" && layerClasses[cls.oneD].convert == nil {
			t.Errorf("%s runs as %s, which has no converter", c, cls.oneD)
		}
	}
}

// TestModelClassesListed checks, on every test model the importer reads,
// that each layer class in its graph is listed as supported.
func TestModelClassesListed(t *testing.T) {
	var paths []string
	for _, pat := range []string{"*.h5", "*.keras", "*.json"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", "models", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	read := 0
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "bad_") || filepath.Base(p) == "MANIFEST.json" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		g, err := LoadArchitecture(p, Options{})
		if err != nil {
			continue // refused as a whole: nothing accepted
		}
		read++
		for _, n := range g.Nodes {
			if n.Op != ir.OpUnsupported && n.Class != "" && !slices.Contains(supported, n.Class) {
				t.Errorf("%s: layer %q of class %s is converted but not listed as supported", filepath.Base(p), n.Name, n.Class)
			}
		}
	}
	if read < 10 {
		t.Errorf("read only %d test models", read)
	}
}
