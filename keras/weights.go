package keras

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/internal/hdf5"
)

// array is one saved weight: its name as saved (may be "" for Keras 3
// positional vars), shape and row-major float32 values.
type array struct {
	name  string
	shape []int
	data  []float32
}

// base returns the weight's short name: "kernel" for "q_dense/kernel:0".
func (a array) base() string {
	n := a.name
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.LastIndexByte(n, ':'); i >= 0 {
		n = n[:i]
	}
	return n
}

// weightSource yields the saved weights of a layer in saved order.
type weightSource interface {
	layer(l *layer) ([]array, error)
	file() string
}

// h5Weights reads the Keras 2 layout (model.save's /model_weights, or
// save_weights at the root; Keras 3 legacy h5 is the same without ":0").
type h5Weights struct {
	path  string
	root  *hdf5.Group
	names map[string]bool // layer_names, when present
}

func newH5Weights(path string, root *hdf5.Group) (*h5Weights, error) {
	w := &h5Weights{path: path, root: root}
	names, ok, err := chunkedStrings(root, "layer_names")
	if err != nil {
		return nil, fmt.Errorf("%s: attribute layer_names of %s: %w", path, root.Path(), err)
	}
	if ok {
		w.names = map[string]bool{}
		for _, n := range names {
			w.names[n] = true
		}
	}
	return w, nil
}

func (w *h5Weights) file() string { return w.path }

func (w *h5Weights) layer(l *layer) ([]array, error) {
	if w.names != nil && !w.names[l.name] {
		return nil, nil
	}
	if !w.root.IsGroup(l.name) {
		return nil, nil
	}
	g, err := w.root.Group(l.name)
	if err != nil {
		return nil, err
	}
	wn, ok, err := chunkedStrings(g, "weight_names")
	if err != nil {
		return nil, fmt.Errorf("attribute weight_names of %s: %w", g.Path(), err)
	}
	if !ok {
		// No weight_names: take every dataset below the group, sorted by path.
		wn = datasetsBelow(g, "")
		sort.Strings(wn)
	}
	var out []array
	for _, n := range wn {
		d, err := g.Dataset(n)
		if err != nil {
			d, err = findDataset(g, n)
			if err != nil {
				return nil, fmt.Errorf("weight %q listed in %s/weight_names: %w", n, g.Path(), err)
			}
		}
		data, err := d.Float32s()
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", d.Path(), err)
		}
		out = append(out, array{name: n, shape: d.Shape(), data: data})
	}
	return out, nil
}

// findDataset locates a weight whose listed name does not match its path
// (some savers drop or add the layer prefix): the unique dataset below g
// whose path ends with the name, or with its last segment.
func findDataset(g *hdf5.Group, name string) (*hdf5.Dataset, error) {
	all := datasetsBelow(g, "")
	for _, want := range []string{name, path.Base(name)} {
		var hits []string
		for _, p := range all {
			if p == want || strings.HasSuffix(p, "/"+want) {
				hits = append(hits, p)
			}
		}
		if len(hits) == 1 {
			return g.Dataset(hits[0])
		}
	}
	return nil, fmt.Errorf("no dataset %q below %s", name, g.Path())
}

// datasetsBelow lists dataset paths below g, relative to g (depth-limited).
func datasetsBelow(g *hdf5.Group, prefix string) []string {
	if strings.Count(prefix, "/") > 8 {
		return nil
	}
	var out []string
	for _, m := range g.Members() {
		if g.IsGroup(m) {
			sub, err := g.Group(m)
			if err == nil {
				out = append(out, datasetsBelow(sub, prefix+m+"/")...)
			}
			continue
		}
		out = append(out, prefix+m)
	}
	return out
}

// chunkedStrings reads a string-list attribute that Keras may split into
// name0, name1, ... when it exceeds the HDF5 header limit. An empty list is
// stored by h5py as a float64 array of shape (0,).
func chunkedStrings(g *hdf5.Group, name string) ([]string, bool, error) {
	read := func(a *hdf5.Attr) ([]string, error) {
		if !a.IsString() {
			if a.Len() == 0 {
				return nil, nil
			}
			return nil, fmt.Errorf("not a string attribute")
		}
		return a.Strings()
	}
	if a, ok := g.Attr(name); ok {
		s, err := read(a)
		return s, true, err
	}
	var out []string
	found := false
	for i := 0; ; i++ {
		a, ok := g.Attr(name + strconv.Itoa(i))
		if !ok {
			break
		}
		found = true
		s, err := read(a)
		if err != nil {
			return nil, true, fmt.Errorf("%s%d: %w", name, i, err)
		}
		out = append(out, s...)
	}
	return out, found, nil
}

// zipWeights reads a Keras 3 model.weights.h5: /layers/<key>/vars/<i>.
type zipWeights struct {
	path   string
	layers *hdf5.Group
	keys   map[string]string // layer name -> key
}

func newZipWeights(path string, f *hdf5.File, m *model) (*zipWeights, error) {
	root := f.Root()
	if !root.IsGroup("layers") {
		return nil, fmt.Errorf("%s: model.weights.h5 has no /layers group", path)
	}
	lg, err := root.Group("layers")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w := &zipWeights{path: path, layers: lg, keys: map[string]string{}}
	// Keras >= 3.6 names each vars group after its layer: use that when present.
	named := false
	for _, key := range lg.Members() {
		if !lg.IsGroup(key) {
			continue
		}
		g, err := lg.Group(key + "/vars")
		if err != nil {
			continue
		}
		if a, ok := g.Attr("name"); ok && a.IsString() {
			if s, err := a.String(); err == nil && s != "" {
				w.keys[s] = key
				named = true
			}
		}
	}
	if !named {
		// Older Keras 3: snake-case class name, _1, _2 for repeats, in model.layers order.
		count := map[string]int{}
		for _, l := range m.layers {
			if l.class == "InputLayer" && m.class == "Sequential" {
				continue // not in model.layers
			}
			base := snakeCase(l.class)
			key := base
			if n := count[base]; n > 0 {
				key = base + "_" + strconv.Itoa(n)
			}
			count[base]++
			w.keys[l.name] = key
		}
	}
	return w, nil
}

func (w *zipWeights) file() string { return w.path }

func (w *zipWeights) layer(l *layer) ([]array, error) {
	key, ok := w.keys[l.name]
	if !ok || !w.layers.IsGroup(key) {
		return nil, nil
	}
	g, err := w.layers.Group(key)
	if err != nil || !g.IsGroup("vars") {
		return nil, nil
	}
	vars, err := g.Group("vars")
	if err != nil {
		return nil, err
	}
	var idx []int
	for _, m := range vars.Members() {
		i, err := strconv.Atoi(m)
		if err != nil {
			continue
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var out []array
	for _, i := range idx {
		d, err := vars.Dataset(strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		data, err := d.Float32s()
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", d.Path(), err)
		}
		out = append(out, array{shape: d.Shape(), data: data})
	}
	return out, nil
}
