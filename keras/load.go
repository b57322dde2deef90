// Package keras imports trained Keras models that use QKeras and Larq
// layers into dqnn's IR (package ir), with Keras's inference semantics:
// kernel quantizers are applied to the saved latent weights at import,
// activation quantizers become OpQuantize nodes, and every tensor's storage
// type is filled in.
//
// Containers: Keras 2 model.save .h5 (model_config + /model_weights),
// architecture .json + save_weights .h5 (hls4ml style), Keras 3 legacy .h5
// and Keras 3 .keras zips, Keras 2 TensorFlow SavedModel directories
// (savedmodel.go).
package keras

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/internal/hdf5"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/ir"
)

// Options tunes Load.
type Options struct {
	// Weights is the weights file of a .json model. "" means the sibling
	// <stem>_weights.h5, then <stem>.h5.
	Weights string

	// InputShape, when not nil, replaces the shape (without the batch
	// dimension) of the model's single input, as if the architecture were
	// re-instantiated with keras.Input(shape=InputShape). Every layer
	// derives its output shape again from it, so this fits fully
	// convolutional models up to a global pooling, and any model whose
	// weights come from Fill (a Dense after a Flatten then gets a kernel for
	// the new flattened size). Saved weights whose shapes no longer fit are
	// refused with the usual shape error. Use it to check large
	// architectures (224×224 zoo models) quickly at a small input size.
	InputShape []int

	// Fill, when not nil, supplies every weight instead of a weights file
	// (which is then neither looked for nor read): it is called once per
	// saved weight of a layer, with the layer name, the weight's Keras name
	// ("kernel", "depthwise_kernel", "bias", "gamma", "beta",
	// "moving_mean", "moving_variance") and its shape, and must return
	// NumElements(shape) latent values. Kernel and bias quantizers are
	// applied to them as to saved weights. Tests use it to run
	// weightless architectures with synthetic weights.
	Fill func(layer, weight string, shape []int) []float32

	// Limits bounds what reading the model and weights files may cost
	// (zero fields: safeio's defaults); errors beyond them name the flag
	// that raises each limit.
	Limits safeio.Limits

	// IgnoreWeights makes LoadArchitecture read the architecture alone,
	// even from a file (or beside a .json) that holds weights: the graph is
	// shapes-only, as if the weights had never been saved. Tests use it to
	// compare the pre-analyze of a model with its analyze.
	IgnoreWeights bool
}

// Load imports the model at path (.h5, .hdf5, .keras, or .json plus a
// weights file) into an ir.Graph. It fails when the weights are missing.
func Load(path string, opt Options) (*ir.Graph, error) { return load(path, opt, false) }

// LoadArchitecture imports a model like Load but accepts an architecture
// without weights (e.g. a .json alone): kernels then have no values
// (Weights.Data == nil) and Graph.Notes says so. Such a graph can be
// inspected, not run or compiled.
func LoadArchitecture(path string, opt Options) (*ir.Graph, error) { return load(path, opt, true) }

var (
	hdf5Magic = []byte("\x89HDF\r\n\x1a\n")
	zipMagic  = []byte("PK\x03\x04")
)

func load(path string, opt Options, archOK bool) (*ir.Graph, error) {
	g, err := loadPath(path, opt, archOK)
	if err != nil {
		return nil, err
	}
	if err := checkTensorSizes(path, g); err != nil {
		return nil, err
	}
	return g, nil
}

// maxTensorElements caps every tensor a model declares: the generated C
// indexes tensors with 32-bit ints, and shapes from a configuration could
// otherwise overflow Go's int silently (10^7 × 10^7 × 10^7 elements).
const maxTensorElements = 1<<31 - 1

// checkTensorSizes refuses a graph with a tensor of more than
// maxTensorElements elements, naming the layer that produces it.
func checkTensorSizes(path string, g *ir.Graph) error {
	check := func(who string, t *ir.Tensor) error {
		n := 1
		for _, d := range t.Shape {
			if d < 0 || d != 0 && n > maxTensorElements/d {
				return fmt.Errorf("%s: %s: shape %v has more than %d elements (2^31-1), which no generated library can index; check the layer's configuration", path, who, t.Shape, maxTensorElements)
			}
			n *= d
		}
		return nil
	}
	for _, t := range g.Inputs {
		if err := check(fmt.Sprintf("input %q", t.Name), t); err != nil {
			return err
		}
	}
	for _, n := range g.Nodes {
		for _, t := range n.Outputs {
			if err := check(fmt.Sprintf("layer %q (%s) output", n.Name, n.Class), t); err != nil {
				return err
			}
		}
	}
	return nil
}

func loadPath(path string, opt Options, archOK bool) (*ir.Graph, error) {
	opt.Limits = opt.Limits.OrDefault()
	if opt.IgnoreWeights && !archOK {
		return nil, fmt.Errorf("%s: Options.IgnoreWeights needs LoadArchitecture", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if isSavedModel(path) {
			return loadSavedModel(path, opt, archOK)
		}
		return nil, dirError(path)
	}
	data, err := safeio.ReadFile(path, opt.Limits.File, safeio.FlagFile)
	if err != nil {
		return nil, err
	}
	return loadBytes(path, data, opt, archOK)
}

// loadBytes imports the model file held in data (read from path) by its
// content, not its extension.
func loadBytes(path string, data []byte, opt Options, archOK bool) (*ir.Graph, error) {
	opt.Limits = opt.Limits.OrDefault()
	var g *ir.Graph
	var err error
	switch {
	case bytes.HasPrefix(data, hdf5Magic):
		g, err = loadH5(path, data, opt, archOK)
	case bytes.HasPrefix(data, zipMagic):
		g, err = loadZip(path, data, opt, archOK)
	case looksJSON(data):
		if err := checkConfigSize(path, "the JSON configuration", len(data), opt.Limits); err != nil {
			return nil, err
		}
		g, err = loadJSON(path, data, opt, archOK)
	default:
		if filepath.Base(path) == "saved_model.pb" || filepath.Base(path) == "keras_metadata.pb" {
			if isSavedModel(filepath.Dir(path)) {
				return loadSavedModel(filepath.Dir(path), opt, archOK)
			}
			return nil, dirError(filepath.Dir(path))
		}
		return nil, fmt.Errorf("%s: not a Keras model file (want a .h5/.hdf5 HDF5 file, a .keras zip or a .json architecture)", path)
	}
	if err != nil {
		return nil, err
	}
	if g.Name == "" {
		g.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	g.Files = append([]ir.File{readFile(path, data)}, g.Files...)
	return g, nil
}

// readFile records a file the importer read, for the provenance.
func readFile(path string, data []byte) ir.File {
	sum := sha256.Sum256(data)
	return ir.File{Path: path, SHA256: hex.EncodeToString(sum[:])}
}

// hashFiles records files a reader read piecewise (a SavedModel's
// checkpoint), hashing them once more as they are now.
func hashFiles(paths []string) ([]ir.File, error) {
	var out []ir.File
	for _, p := range paths {
		st, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		f, err := safeio.Open(p)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, io.LimitReader(f, st.Size()))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, ir.File{Path: p, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	return out, nil
}

func dirError(path string) error {
	if _, err := os.Stat(filepath.Join(path, "saved_model.pb")); err == nil {
		return fmt.Errorf("%s: TensorFlow SavedModel without keras_metadata.pb (written by tf.saved_model.save or Keras 3 model.export, not Keras 2 model.save): it holds no Keras config. Load the model in Python and re-save it with model.save(\"model.h5\") or model.save(\"model.keras\")", path)
	}
	return fmt.Errorf("%s is a directory, not a model file", path)
}

// checkConfigSize refuses a JSON configuration over the config limit
// before it is parsed (decoding JSON costs several times its size).
func checkConfigSize(name, what string, n int, l safeio.Limits) error {
	if int64(n) > l.Config {
		return &safeio.LimitError{Name: name, What: what, Size: int64(n), Limit: l.Config, Flag: safeio.FlagConfig}
	}
	return nil
}

func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	return len(t) > 0 && (t[0] == '{' || t[0] == '"')
}

func loadH5(path string, data []byte, opt Options, archOK bool) (*ir.Graph, error) {
	f, err := hdf5.OpenBytesLimits(path, data, opt.Limits)
	if err != nil {
		return nil, err
	}
	root := f.Root()
	a, ok := root.Attr("model_config")
	if !ok {
		if _, has := root.Attr("layer_names"); has {
			return nil, fmt.Errorf("%s holds weights only (save_weights): import the architecture .json and pass this file as its weights (--weights %s)", path, path)
		}
		return nil, fmt.Errorf("%s: HDF5 file without a model_config attribute: not a Keras model.save file", path)
	}
	cfgText, err := a.String()
	if err != nil {
		return nil, fmt.Errorf("%s: attribute model_config: %w", path, err)
	}
	if err := checkConfigSize(path, "the model_config attribute", len(cfgText), opt.Limits); err != nil {
		return nil, err
	}
	m, err := parseModelJSON([]byte(cfgText))
	if err != nil {
		return nil, fmt.Errorf("%s: model_config: %w", path, err)
	}
	if a, ok := root.Attr("keras_version"); ok && a.IsString() {
		if v, err := a.String(); err == nil && strings.HasPrefix(v, "3.") {
			m.keras3 = true
		}
	}
	var w weightSource
	switch {
	case opt.Fill != nil:
		w = filled{opt.Fill}
	case root.IsGroup("model_weights") && !opt.IgnoreWeights:
		g, err := root.Group("model_weights")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if w, err = newH5Weights(path, g); err != nil {
			return nil, err
		}
	case archOK:
	default:
		return nil, fmt.Errorf("%s: the file has a model_config but no /model_weights group (saved with include_optimizer only?); re-save with model.save", path)
	}
	g, err := buildWith(path, m, w, opt)
	if err != nil {
		return nil, err
	}
	g.Source = path
	if w == nil {
		g.ShapesOnly = true
		why := "no weights found"
		if opt.IgnoreWeights {
			why = "weights ignored"
		}
		g.Notes = append(g.Notes, fmt.Sprintf("%s: architecture only: %s", path, why))
	}
	return g, nil
}

func loadZip(path string, data []byte, opt Options, archOK bool) (*ir.Graph, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid .keras zip: %w", path, err)
	}
	// The entries together may unpack to the unpacked limit, each within
	// its own limit; sizes declared in the zip are checked first, then the
	// reads are capped in case they lie.
	budget := safeio.NewBudget(opt.Limits.Unpacked, path, "the entries unpacked from the archive", safeio.FlagUnpacked)
	read := func(name string, limit int64, flag string) ([]byte, error) {
		entry := path + "/" + name
		f, err := zr.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", entry, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", entry, err)
		}
		if st.Size() > limit {
			return nil, &safeio.LimitError{Name: entry, What: "the unpacked entry", Size: st.Size(), Limit: limit, Flag: flag}
		}
		if err := budget.Take(st.Size()); err != nil {
			return nil, err
		}
		b, err := safeio.ReadAll(f, st.Size(), entry, "the unpacked entry (larger than the archive declares)", flag, st.Size())
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	cfgData, err := read("config.json", opt.Limits.Config, safeio.FlagConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: .keras archive has no config.json", path)
	}
	if err != nil {
		return nil, err
	}
	m, err := parseModelJSON(cfgData)
	if err != nil {
		return nil, fmt.Errorf("%s: config.json: %w", path, err)
	}
	if opt.Fill != nil {
		g, err := buildWith(path, m, filled{opt.Fill}, opt)
		if err != nil {
			return nil, err
		}
		g.Source = path
		return g, nil
	}
	if _, missing := zr.Open("model.weights.h5"); opt.IgnoreWeights || missing != nil && archOK {
		if _, e2 := zr.Open("model.weights.npz"); e2 != nil || opt.IgnoreWeights {
			g, err := buildWith(path, m, nil, opt)
			if err != nil {
				return nil, err
			}
			g.Source = path
			g.ShapesOnly = true
			why := "the archive has no model.weights.h5"
			if opt.IgnoreWeights {
				why = "weights ignored"
			}
			g.Notes = append(g.Notes, fmt.Sprintf("%s: architecture only: %s", path, why))
			return g, nil
		}
	}
	wData, err := read("model.weights.h5", opt.Limits.Unpacked, safeio.FlagUnpacked)
	if errors.Is(err, fs.ErrNotExist) {
		if _, e2 := zr.Open("model.weights.npz"); e2 == nil {
			return nil, fmt.Errorf("%s: weights are stored as model.weights.npz; re-save with the default HDF5 weights format", path)
		}
		return nil, fmt.Errorf("%s: .keras archive has no model.weights.h5", path)
	}
	if err != nil {
		return nil, err
	}
	// The weights file draws its decompressed datasets from what the
	// archive's entries left of the unpacked limit.
	wl := opt.Limits
	wl.Unpacked = max(budget.Left(), 1)
	wf, err := hdf5.OpenBytesLimits(path+"/model.weights.h5", wData, wl)
	if err != nil {
		return nil, err
	}
	w, err := newZipWeights(path+"/model.weights.h5", wf, m)
	if err != nil {
		return nil, err
	}
	g, err := buildWith(path, m, w, opt)
	if err != nil {
		return nil, err
	}
	g.Source = path
	return g, nil
}

func loadJSON(path string, data []byte, opt Options, archOK bool) (*ir.Graph, error) {
	m, err := parseModelJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opt.Fill != nil {
		g, err := buildWith(path, m, filled{opt.Fill}, opt)
		if err != nil {
			return nil, err
		}
		g.Source = path
		return g, nil
	}
	wpath := opt.Weights
	if opt.IgnoreWeights {
		wpath = ""
	} else if wpath == "" {
		stem := strings.TrimSuffix(path, filepath.Ext(path))
		for _, c := range []string{stem + "_weights.h5", stem + ".h5"} {
			if _, err := os.Stat(c); err == nil {
				wpath = c
				break
			}
		}
	}
	if wpath == "" {
		if !archOK {
			stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			return nil, fmt.Errorf("%s: no weights file: looked for %s_weights.h5 and %s.h5 next to it; pass the weights file explicitly (--weights FILE)", path, stem, stem)
		}
		g, err := buildWith(path, m, nil, opt)
		if err != nil {
			return nil, err
		}
		g.Source = path
		g.ShapesOnly = true
		stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		why := fmt.Sprintf("no weights file (%s_weights.h5 or %s.h5) was found, kernels have no values", stem, stem)
		if opt.IgnoreWeights {
			why = "weights ignored"
		}
		g.Notes = append(g.Notes, fmt.Sprintf("%s: architecture only: %s", path, why))
		return g, nil
	}
	wdata, err := safeio.ReadFile(wpath, opt.Limits.File, safeio.FlagFile)
	if err != nil {
		return nil, fmt.Errorf("%s: weights: %w", path, err)
	}
	f, err := hdf5.OpenBytesLimits(wpath, wdata, opt.Limits)
	if err != nil {
		return nil, fmt.Errorf("%s: weights: %w", path, err)
	}
	root := f.Root()
	if root.IsGroup("model_weights") {
		if root, err = root.Group("model_weights"); err != nil {
			return nil, fmt.Errorf("%s: %w", wpath, err)
		}
	}
	w, err := newH5Weights(wpath, root)
	if err != nil {
		return nil, err
	}
	g, err := buildWith(path, m, w, opt)
	if err != nil {
		return nil, err
	}
	g.Source = path + " + " + wpath
	g.Files = []ir.File{readFile(wpath, wdata)}
	return g, nil
}
