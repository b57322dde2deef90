package compiler_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/emit"
	"github.com/dqnn/dqnn/keras"
)

var provenanceLine = regexp.MustCompile(`(?m)^// Provenance: .*$`)

// provenance compiles the model at path and returns the provenance line of
// NAME.c and the graph's recorded files.
func provenance(t *testing.T, path string, opt keras.Options) (string, []string) {
	t.Helper()
	g, err := keras.Load(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for _, f := range g.Files {
		sums = append(sums, f.SHA256)
	}
	return provenanceLine.FindString(string(res.Files["m.c"])), sums
}

// TestProvenanceCoversEveryFileRead: the provenance of a .json model names
// the .json and its weights with the sha256 of each; finding the weights
// beside the .json and passing them with --weights give the same line; a
// flipped byte in the weights changes the weights' hash.
func TestProvenanceCoversEveryFileRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, f := range []string{"qk_json_dense.json", "qk_json_dense_weights.h5"} {
		b, err := os.ReadFile(filepath.Join(root, "testdata/models", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model, weights := filepath.Join(dir, "qk_json_dense.json"), filepath.Join(dir, "qk_json_dense_weights.h5")
	hash := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	want := "// Provenance: dqnn generate, template model/model.c.tmpl, model qk_json_dense.json (sha256 " + hash(files["qk_json_dense.json"]) +
		") + qk_json_dense_weights.h5 (sha256 " + hash(files["qk_json_dense_weights.h5"]) + "), target cortex-m4."
	sibling, _ := provenance(t, model, keras.Options{})
	if sibling != want {
		t.Errorf("weights found beside the .json:\n got %s\nwant %s", sibling, want)
	}
	if flag, _ := provenance(t, model, keras.Options{Weights: weights}); flag != want {
		t.Errorf("--weights:\n got %s\nwant %s", flag, want)
	}
	// Flip one byte of the weights, from the end (raw data) towards the
	// front, until the file still imports.
	w := files["qk_json_dense_weights.h5"]
	for off := len(w) - 1; off > len(w)/2; off-- {
		b := append([]byte(nil), w...)
		b[off] ^= 0x01
		if err := os.WriteFile(weights, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := keras.Load(model, keras.Options{}); err != nil {
			continue
		}
		line, sums := provenance(t, model, keras.Options{})
		if line == want || len(sums) != 2 || sums[0] != hash(files["qk_json_dense.json"]) || sums[1] != hash(b) {
			t.Errorf("byte %d flipped: provenance %s, hashes %v (weights now %s)", off, line, sums, hash(b))
		}
		return
	}
	t.Fatal("no single flipped byte in the second half of the weights file left it importable")
}

// TestCNameIsAcceptedName: the default --name made from any file stem is
// one emit.CheckName accepts.
func TestCNameIsAcceptedName(t *testing.T) {
	for stem, want := range map[string]string{
		"mnist_bnn": "mnist_bnn", "RN07_model_best": "rn07_model_best", "1net": "model_1net", "_x": "model__x",
		"dq_types": "model_dq_types", "DQNN": "model_dqnn", "": "model_", "a*/b": "a__b",
		strings.Repeat("x", 100): strings.Repeat("x", emit.MaxName),
	} {
		got := compiler.CName(stem)
		if got != want {
			t.Errorf("CName(%q) = %q, want %q", stem, got, want)
		}
		if err := emit.CheckName(got); err != nil {
			t.Errorf("CName(%q) = %q: %v", stem, got, err)
		}
	}
}

// TestProvenanceSavedModel: a SavedModel directory's provenance names the
// metadata, the checkpoint index and every data shard with their hashes.
func TestProvenanceSavedModel(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(root, "testdata/models/qk_conv_savedmodel")
	line, _ := provenance(t, dir, keras.Options{})
	var want []string
	for _, f := range keras.ModelFiles(dir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want = append(want, filepath.Base(f)+" (sha256 "+hex.EncodeToString(sum[:])+")")
	}
	if len(want) < 3 || !strings.Contains(line, "model "+strings.Join(want, " + ")+", target") {
		t.Errorf("provenance %s\nwant the files %v", line, want)
	}
}
