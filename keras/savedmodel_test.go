package keras_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/validate"
)

const models = "../testdata/models"

// savedModelCase is a SavedModel with its inputs and independently
// computed expected outputs (scripts/fixtures/savedmodel.py: a Python
// reader of the files + the numpy oracle).
type savedModelCase struct {
	name, dir, inputs, expected string
	h5                          string   // the same model as an h5 fixture, if any
	exact                       bool     // outputs on a quantized grid: bit for bit
	shared                      []string // a real model's path below the shared models folder; dir is set by locate
}

// locate sets a real model's dir, skipping (failing under CI) when the
// shared models folder is absent.
func (c *savedModelCase) locate(t *testing.T) {
	if c.shared != nil {
		c.dir = sharedmodels.Require(t, c.shared...)
	}
}

func savedModelCases() []savedModelCase {
	cases := []savedModelCase{
		{name: "lq_pool_bn_sign", h5: "lq_pool_bn_sign.h5", exact: true},
		{name: "lq_float64", h5: "lq_float64.h5", exact: true},
		{name: "k_branches", h5: "k_branches.h5"},        // Functional, biases, float outputs
		{name: "qk_conv", h5: "qk_conv.h5", exact: true}, // QKeras: QConv2D/QDense with biases
	}
	for i := range cases {
		c := &cases[i]
		c.dir = filepath.Join(models, c.name+"_savedmodel")
		c.inputs = filepath.Join(models, c.name+".inputs.npy")
		c.expected = filepath.Join(models, c.name+".expected.npy")
		c.h5 = filepath.Join(models, c.h5)
	}
	for _, commit := range []string{"8c480ab", "e1b41a8"} {
		cases = append(cases, savedModelCase{
			name: "ee4690_" + commit, shared: []string{"larq", "ee4690", "savedmodel_" + commit}, exact: true,
			inputs:   filepath.Join(models, "ee4690_"+commit+".inputs.npy"),
			expected: filepath.Join(models, "ee4690_"+commit+".expected.npy"),
		})
	}
	return cases
}

func readNPY(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	d, shape, err := validate.ReadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	return d, shape
}

// TestSavedModelOutputs imports each SavedModel and runs the reference
// interpreter against the independent expected outputs, bit for bit: the
// oracle follows the same float32 conventions, so even the real models'
// float BatchNormalization outputs agree exactly.
func TestSavedModelOutputs(t *testing.T) {
	t.Parallel()
	for _, c := range savedModelCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.locate(t)
			g, err := keras.Load(c.dir, keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ins, shape := readNPY(t, c.inputs)
			want, _ := readNPY(t, c.expected)
			nIn, nOut := ir.NumElements(g.Inputs[0].Shape), ir.NumElements(g.Outputs[0].Shape)
			if len(ins) != shape[0]*nIn || len(want) != shape[0]*nOut {
				t.Fatalf("%d inputs / %d expected values for %d samples of %v -> %v", len(ins), len(want), shape[0], g.Inputs[0].Shape, g.Outputs[0].Shape)
			}
			bad := 0
			for s := 0; s < shape[0]; s++ {
				got, err := interp.Run(g, [][]float32{ins[s*nIn : (s+1)*nIn]})
				if err != nil {
					t.Fatal(err)
				}
				w := want[s*nOut : (s+1)*nOut]
				if argmax(got[0]) != argmax(w) {
					t.Errorf("sample %d: argmax %d, want %d", s, argmax(got[0]), argmax(w))
				}
				for i := range w {
					d := math.Abs(float64(got[0][i]) - float64(w[i]))
					if (c.exact && got[0][i] != w[i]) || d > 1e-6+1e-5*math.Abs(float64(w[i])) {
						if bad++; bad <= 5 {
							t.Errorf("sample %d [%d]: got %g, want %g", s, i, got[0][i], w[i])
						}
					}
				}
			}
		})
	}
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// TestSavedModelSameAsH5 checks that a fixture's SavedModel imports to the
// same graph, weights included, as the h5 it was written from.
func TestSavedModelSameAsH5(t *testing.T) {
	t.Parallel()
	for _, c := range savedModelCases() {
		if c.h5 == "" {
			continue
		}
		a, err := keras.Load(c.dir, keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := keras.Load(c.h5, keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Nodes) != len(b.Nodes) {
			t.Fatalf("%s: %d nodes, the h5 gives %d", c.name, len(a.Nodes), len(b.Nodes))
		}
		for i := range a.Nodes {
			if a.Nodes[i].Name != b.Nodes[i].Name || !reflect.DeepEqual(a.Nodes[i].Attrs, b.Nodes[i].Attrs) {
				t.Errorf("%s: node %s: attributes (weights included) differ from the h5's node %s", c.name, a.Nodes[i].Name, b.Nodes[i].Name)
			}
		}
	}
}

// TestSavedModelValidateHost builds each SavedModel's C library and checks
// it against the interpreter on its inputs, every traced tensor compared
// (s1/s8 tensors bit for bit).
func TestSavedModelValidateHost(t *testing.T) {
	t.Parallel()
	for _, c := range savedModelCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testenv.NeedCmd(t, "cc")
			c.locate(t)
			g, err := keras.Load(c.dir, keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := validate.Run(context.Background(), g, validate.Options{
				Model: c.dir, Inputs: []string{c.inputs}, Name: "sm",
				CheckOptions: validate.CheckOptions{PerLayer: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				var sb strings.Builder
				rep.WriteText(&sb)
				t.Fatalf("validation failed:\n%s", sb.String())
			}
			ints := 0
			for _, l := range rep.Layers {
				if l.DType == "s1" || l.DType == "s8" {
					ints++
				}
			}
			if c.exact && ints == 0 { // the quantized models
				t.Errorf("no s1/s8 tensor was compared")
			}
			t.Logf("%s: %d samples, %d traced tensors (%d s1/s8) agree", c.name, rep.Samples, len(rep.Layers), ints)
		})
	}
}

// copyDir copies the SavedModel directory src to a temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sm")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestSavedModelHostile(t *testing.T) {
	t.Parallel()
	src := filepath.Join(models, "lq_pool_bn_sign_savedmodel")
	shard := filepath.Join("variables", "variables.data-00000-of-00001")
	index := filepath.Join("variables", "variables.index")
	edit := func(t *testing.T, file string, f func([]byte) []byte) string {
		dir := copyDir(t, src)
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, c := range []struct {
		name string
		dir  func(t *testing.T) string
		want []string
	}{
		{"bad crc", func(t *testing.T) string {
			return edit(t, shard, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
		}, []string{shard, "crc32c mismatch"}},
		{"shard truncated", func(t *testing.T) string {
			return edit(t, shard, func(b []byte) []byte { return b[:len(b)-100] })
		}, []string{index, "past the end of", shard}},
		{"index truncated", func(t *testing.T) string {
			return edit(t, index, func(b []byte) []byte { return b[:len(b)-7] })
		}, []string{index, "truncated"}},
		{"index garbage", func(t *testing.T) string {
			return edit(t, index, func(b []byte) []byte { return []byte("not a table, just text that is long enough for a footer") })
		}, []string{index, "bad table magic"}},
		{"metadata garbage", func(t *testing.T) string {
			return edit(t, "keras_metadata.pb", func(b []byte) []byte { return []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f} })
		}, []string{"keras_metadata.pb", "declares"}},
		{"no checkpoint", func(t *testing.T) string {
			dir := copyDir(t, src)
			os.RemoveAll(filepath.Join(dir, "variables"))
			return dir
		}, []string{"no TensorFlow checkpoint"}},
		{"no keras metadata", func(t *testing.T) string {
			dir := copyDir(t, src)
			os.Remove(filepath.Join(dir, "keras_metadata.pb"))
			return dir
		}, []string{"without keras_metadata.pb"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := c.dir(t)
			_, err := keras.Load(dir, keras.Options{})
			if err == nil {
				t.Fatal("loaded a broken SavedModel")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestSavedModelWithoutLayerMetadata strips every object but the root from
// keras_metadata.pb: the layers then map through Keras's layer-<i> edges
// and must get the same weights.
func TestSavedModelWithoutLayerMetadata(t *testing.T) {
	t.Parallel()
	for _, c := range savedModelCases() {
		if c.h5 == "" {
			continue
		}
		dir := copyDir(t, c.dir)
		p := filepath.Join(dir, "keras_metadata.pb")
		md, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The first field (tag 0x0a) is the root object written by the script.
		n, k := binary.Uvarint(md[1:])
		if md[0] != 0x0a || k <= 0 {
			t.Fatalf("%s: unexpected metadata layout", c.name)
		}
		if err := os.WriteFile(p, md[:1+k+int(n)], 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := keras.Load(dir, keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := keras.Load(c.dir, keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Nodes {
			if !reflect.DeepEqual(a.Nodes[i].Attrs, b.Nodes[i].Attrs) {
				t.Errorf("%s: node %s: weights differ when mapped through layer-<i>", c.name, a.Nodes[i].Name)
			}
		}
	}
}

func TestSavedModelPaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(models, "lq_float64_savedmodel")
	// The metadata file names its directory.
	g, err := keras.Load(filepath.Join(dir, "keras_metadata.pb"), keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(g.Notes, "\n"), "float64 in the checkpoint") {
		t.Errorf("notes %q do not mention the float64 weights", g.Notes)
	}
	if files := keras.ModelFiles(dir); len(files) != 4 {
		t.Errorf("ModelFiles = %v, want keras_metadata.pb, the index and 2 shards", files)
	}
	// Without variables/, the architecture still imports.
	arch := copyDir(t, dir)
	os.RemoveAll(filepath.Join(arch, "variables"))
	g, err = keras.LoadArchitecture(arch, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(g.Notes, "\n"), "architecture only") {
		t.Errorf("notes %q do not say architecture only", g.Notes)
	}
}
