package keras

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/internal/tfckpt"
	"github.com/dqnn/dqnn/ir"
)

// A Keras 2 model.save("dir") SavedModel keeps the Keras config in
// keras_metadata.pb (one SavedObject per trackable, the root's metadata
// holding the model config) and the weights in a TensorFlow checkpoint
// under variables/. Checkpoint keys name object-graph paths
// ("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"), not layer
// names; the metadata gives each layer's path from the root
// ("root.layer_with_weights-0"), and the checkpoint's own object graph
// resolves that path to the layer's variables. Following both graphs,
// rather than rebuilding Keras's layer_with_weights-N numbering from the
// config, keeps the mapping right whatever Keras version numbered them.

const (
	kerasMetadataFile = "keras_metadata.pb"
	ckptPrefix        = "variables/variables" // relative to the SavedModel directory
)

// isSavedModel reports whether dir looks like a Keras SavedModel directory.
func isSavedModel(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, kerasMetadataFile))
	return err == nil
}

// ModelFiles lists the files that make up the model at path, for hashing
// into provenance lines: the path itself, or for a SavedModel directory its
// keras_metadata.pb, checkpoint index and data shards.
func ModelFiles(path string) []string {
	if st, err := os.Stat(path); err != nil || !st.IsDir() || !isSavedModel(path) {
		return []string{path}
	}
	files := []string{filepath.Join(path, kerasMetadataFile)}
	prefix := filepath.Join(path, filepath.FromSlash(ckptPrefix))
	if _, err := os.Stat(prefix + ".index"); err == nil {
		files = append(files, prefix+".index")
		shards, _ := filepath.Glob(prefix + ".data-*-of-*")
		files = append(files, shards...)
	}
	return files
}

func loadSavedModel(dir string, opt Options, archOK bool) (*ir.Graph, error) {
	mdPath := filepath.Join(dir, kerasMetadataFile)
	objs, err := tfckpt.ReadKerasMetadata(mdPath, opt.Limits.File)
	if err != nil {
		return nil, err
	}
	var root *tfckpt.SavedObject
	for i := range objs {
		if objs[i].NodePath == "root" {
			root = &objs[i]
			break
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: no object with node_path \"root\": not the metadata of a Keras model", mdPath)
	}
	if !strings.HasPrefix(root.Identifier, "_tf_keras_") || root.Identifier == "_tf_keras_layer" {
		return nil, fmt.Errorf("%s: the root object is %q, not a Keras model (_tf_keras_model, _tf_keras_network or _tf_keras_sequential): save the model, not a layer", mdPath, root.Identifier)
	}
	m, err := parseModelJSON([]byte(root.Metadata))
	if err != nil {
		return nil, fmt.Errorf("%s: metadata of the root model: %w", mdPath, err)
	}
	var w weightSource
	var ck *ckptWeights
	prefix := filepath.Join(dir, filepath.FromSlash(ckptPrefix))
	switch _, statErr := os.Stat(prefix + ".index"); {
	case opt.Fill != nil:
		w = filled{opt.Fill}
	case opt.IgnoreWeights:
	case statErr == nil:
		if ck, err = newCkptWeights(prefix, objs, m, opt.Limits.File); err != nil {
			return nil, err
		}
		w = ck
	case archOK && errors.Is(statErr, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("%s: the SavedModel has no TensorFlow checkpoint (%s.index): %w", dir, ckptPrefix, statErr)
	}
	g, err := buildWith(dir, m, w, opt)
	if err != nil {
		return nil, err
	}
	g.Source = strings.Join(ModelFiles(dir), ", ")
	if g.Files, err = hashFiles(ModelFiles(dir)); err != nil {
		return nil, err
	}
	if w == nil {
		g.ShapesOnly = true
		why := "the SavedModel has no variables/variables.index"
		if opt.IgnoreWeights {
			why = "weights ignored"
		}
		g.Notes = append(g.Notes, fmt.Sprintf("%s: architecture only: %s", dir, why))
	}
	if ck != nil && ck.float64s > 0 {
		g.Notes = append(g.Notes, fmt.Sprintf("%s: %d weight tensors are float64 in the checkpoint; dqnn rounds them to float32 and computes in float32: float outputs may differ from a float64 Keras run by about 1e-7 relative (at most 7.1e-7 absolute on the ee4690 models' outputs), and a 1-bit or 8-bit value only where its float64 input lies within float32 rounding of a quantizer threshold (docs/savedmodel.md)", dir, ck.float64s))
	}
	return g, nil
}

// ckptWeights reads a layer's weights from the checkpoint through the
// object graph.
type ckptWeights struct {
	b        *tfckpt.Bundle
	og       *tfckpt.ObjectGraph
	paths    map[string]string // layer name -> its edge from the root ("layer_with_weights-0")
	float64s int               // float64 tensors read so far
}

func newCkptWeights(prefix string, objs []tfckpt.SavedObject, m *model, maxFile int64) (*ckptWeights, error) {
	b, err := tfckpt.Open(prefix, maxFile)
	if err != nil {
		return nil, err
	}
	og, err := b.ObjectGraph()
	if err != nil {
		return nil, err
	}
	w := &ckptWeights{b: b, og: og, paths: map[string]string{}}
	// The model's own layers sit one edge below the root; deeper objects
	// (quantizers, nested layers) belong to them.
	for _, o := range objs {
		rest, ok := strings.CutPrefix(o.NodePath, "root.")
		if !ok || strings.Contains(rest, ".") {
			continue
		}
		name, err := metadataName(o.Metadata)
		if err != nil {
			return nil, fmt.Errorf("%s: object %q: %w", filepath.Join(filepath.Dir(filepath.Dir(prefix)), kerasMetadataFile), o.NodePath, err)
		}
		if _, dup := w.paths[name]; name != "" && !dup {
			w.paths[name] = rest
		}
	}
	// Layers the metadata does not list: Keras tracks model.layers[i] as
	// "layer-i" (a Sequential model's layers omit its InputLayer).
	i := 0
	for _, l := range m.layers {
		if m.class == "Sequential" && l.class == "InputLayer" {
			continue
		}
		if _, ok := w.paths[l.name]; !ok {
			w.paths[l.name] = "layer-" + strconv.Itoa(i)
		}
		i++
	}
	return w, nil
}

// metadataName returns the "name" of a SavedObject's JSON metadata.
func metadataName(md string) (string, error) {
	if md == "" {
		return "", nil
	}
	var v struct {
		Name any `json:"name"`
	}
	if err := json.Unmarshal([]byte(md), &v); err != nil {
		return "", fmt.Errorf("metadata is not a JSON object: %w", err)
	}
	name, _ := v.Name.(string)
	return name, nil
}

func (w *ckptWeights) file() string { return w.b.Index() }

func (w *ckptWeights) layer(l *layer) ([]array, error) {
	edge, ok := w.paths[l.name]
	if !ok {
		return nil, nil
	}
	node, ok := w.og.Child(0, edge)
	if !ok {
		return nil, nil // no saved object: the layer has no variables
	}
	// The layer's "variables" child lists them in Keras weight order as
	// "0", "1", ...; without it, take the variable children in order.
	var vars []int
	if vl, ok := w.og.Child(node, "variables"); ok {
		for i := range w.og.Nodes[vl].Children {
			c, ok := w.og.Child(vl, strconv.Itoa(i))
			if !ok {
				break
			}
			vars = append(vars, c)
		}
	}
	if len(vars) == 0 {
		for _, c := range w.og.Nodes[node].Children {
			vars = append(vars, c.Node)
		}
	}
	var out []array
	for _, v := range vars {
		a, ok := w.og.Variable(v)
		if !ok {
			continue
		}
		e, ok := w.b.Entry(a.CheckpointKey)
		if !ok {
			return nil, fmt.Errorf("the object graph names checkpoint key %q for %q, which the index does not hold", a.CheckpointKey, a.FullName)
		}
		data, shape, err := w.b.Floats(a.CheckpointKey)
		if err != nil {
			return nil, err
		}
		if e.DType == tfckpt.Float64 {
			w.float64s++
		}
		name := a.FullName // "quant_conv2d/kernel": array.base gives "kernel"
		if name == "" {
			name, _, _ = strings.Cut(a.CheckpointKey, "/.ATTRIBUTES/")
		}
		out = append(out, array{name: name, shape: shape, data: data})
	}
	return out, nil
}
