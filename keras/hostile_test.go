package keras

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/fuzzseed"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/ir"
)

// loadWithin runs Load and fails the test when it does not return within
// a few seconds (a FIFO opened for reading blocks until a writer appears).
func loadWithin(t *testing.T, path string, opt Options) (*ir.Graph, error) {
	t.Helper()
	type result struct {
		g   *ir.Graph
		err error
	}
	done := make(chan result, 1)
	go func() {
		g, err := Load(path, opt)
		done <- result{g, err}
	}()
	select {
	case r := <-done:
		return r.g, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) hangs", path)
		return nil, nil
	}
}

// checkImported fails unless err names the file, or the graph imported
// from hostile bytes is well formed.
func checkImported(t *testing.T, name string, g *ir.Graph, err error) {
	t.Helper()
	if err != nil {
		if !strings.HasPrefix(err.Error(), name) {
			t.Fatalf("error does not start with the file name %s: %v", name, err)
		}
		return
	}
	if err := g.Verify(); err != nil {
		t.Fatalf("graph imported from damaged %s fails Verify: %v", name, err)
	}
}

// TestDamagedExample truncates and flips bytes of the bundled example at
// many offsets: every import is a clear error naming the file or a valid
// graph, never a panic, and costs memory bounded by the file size.
//
// Not parallel: allocation is measured across the process.
func TestDamagedExample(t *testing.T) {
	const name = "mnist_bnn.h5"
	data, err := os.ReadFile("../examples/mnist_bnn/" + name)
	if err != nil {
		t.Fatal(err)
	}
	bound := uint64(64<<20 + 16*len(data))
	try := func(what string, bad []byte) {
		var g *ir.Graph
		var err error
		n := safeio.Allocated(func() { g, err = loadBytes(name, bad, Options{}, false) })
		checkImported(t, name, g, err)
		if n > bound {
			t.Fatalf("%s: import allocated %d bytes (bound %d)", what, n, bound)
		}
	}
	stride := len(data) / 200
	for n := 0; n < len(data); n += stride {
		try(fmt.Sprintf("truncated to %d bytes", n), data[:n:n])
	}
	// Flips are dense near the start (superblock, root group, the
	// model_config attribute's header) and spread over the rest; high and
	// low bits alternate.
	bad := bytes.Clone(data)
	for i, k := 0, 0; i < len(data); i, k = i+max(1, min(i/32, stride)), k+1 {
		x := []byte{0x80, 0x01, 0xff}[k%3]
		bad[i] ^= x
		try(fmt.Sprintf("byte %d ^ %#x", i, x), bad)
		bad[i] ^= x
	}
}

// TestSpecialFiles gives /dev/zero and a FIFO as the model, as --weights
// and as the sibling weights of a .json: each is refused at once.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.h5")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../testdata/models/qk_json_dense.json")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.json")
	if err := os.WriteFile(model, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	sibDir := t.TempDir()
	sib := filepath.Join(sibDir, "m.json")
	if err := os.WriteFile(sib, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(sibDir, "m_weights.h5"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model, weights, want string
	}{
		{"/dev/zero", "", "/dev/zero is a character device"},
		{fifo, "", fifo + " is a named pipe (FIFO)"},
		{model, "/dev/zero", "/dev/zero is a character device"},
		{model, fifo, fifo + " is a named pipe (FIFO)"},
		{model, dir, dir + " is a directory"},
		{sib, "", "m_weights.h5 is a named pipe (FIFO)"},
	} {
		_, err := loadWithin(t, c.model, Options{Weights: c.weights})
		if !errors.Is(err, safeio.ErrSpecial) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("model %s weights %q: err = %v, want %q", c.model, c.weights, err, c.want)
		}
	}
}

// rawEntry is one zip entry written as given, declared sizes included.
type rawEntry struct {
	name     string
	data     []byte // uncompressed content
	declared int64  // uncompressed size written in the headers; -1: len(data)
}

// keras3Zip rebuilds the bundled .keras fixture with entries replaced.
func keras3Zip(t testing.TB, replace ...rawEntry) []byte {
	t.Helper()
	zr, err := zip.OpenReader("../testdata/models/qk_keras3_zip.keras")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	entries := map[string]rawEntry{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name] = rawEntry{f.Name, b, -1}
		order = append(order, f.Name)
	}
	for _, e := range replace {
		if _, ok := entries[e.name]; !ok {
			order = append(order, e.name)
		}
		entries[e.name] = e
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, name := range order {
		e := entries[name]
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(e.data)
		fw.Close()
		size := uint64(len(e.data))
		if e.declared >= 0 {
			size = uint64(e.declared)
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestZipBombs builds hostile .keras archives: entries declaring or
// inflating past their limits are refused before they are unpacked, with
// an error naming the archive, the entry and the flag.
// Not parallel: allocation is measured across the process.
func TestZipBombs(t *testing.T) {
	cfg := keras3Zip(t) // unchanged: must import
	if g, err := loadBytes("ok.keras", cfg, Options{}, false); err != nil || g.Verify() != nil {
		t.Fatalf("the unchanged fixture does not import: %v", err)
	}
	zeros := make([]byte, 8<<20)
	for _, c := range []struct {
		name   string
		data   []byte
		limits safeio.Limits
		want   string
	}{
		{"declared.keras", keras3Zip(t, rawEntry{"model.weights.h5", []byte("x"), 1 << 40}), safeio.Limits{},
			"declared.keras/model.weights.h5: the unpacked entry is 1024 GiB (1099511627776 bytes), over the limit of 32 MiB"},
		{"config.keras", keras3Zip(t, rawEntry{"config.json", zeros, -1}), safeio.Limits{Config: 1 << 20},
			"config.keras/config.json: the unpacked entry is 8 MiB (8388608 bytes), over the limit of 1 MiB (1048576 bytes); if the model is legitimately this large, raise the limit with --max-config-size"},
		{"lying.keras", keras3Zip(t, rawEntry{"model.weights.h5", zeros, 100}), safeio.Limits{},
			"lying.keras/model.weights.h5: zip: not a valid zip file"},
		{"total.keras", keras3Zip(t, rawEntry{"model.weights.h5", zeros, -1}), safeio.Limits{Unpacked: 8<<20 + 1000},
			"total.keras: the entries unpacked from the archive is 8393759 bytes, over the limit of 8389608 bytes; if the model is legitimately this large, raise the limit with --max-unpacked-size"},
	} {
		var err error
		n := safeio.Allocated(func() { _, err = loadBytes(c.name, c.data, Options{Limits: c.limits}, false) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if n > 2<<20 {
			t.Errorf("%s: refusing it allocated %d bytes", c.name, n)
		}
	}
}

// TestHostileConfigs feeds JSON configurations that are too large, too deep
// or malformed: each is a clear error naming the file.
func TestHostileConfigs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := os.ReadFile("../testdata/models/qk_json_dense.json")
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"class_name": "Sequential", "config": {"layers": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`
	for _, c := range []struct {
		name, text string
		limits     safeio.Limits
		want       string
	}{
		{"big.json", string(cfg), safeio.Limits{Config: 1024}, fmt.Sprintf("big.json: the JSON configuration is %d bytes, over the limit of 1 KiB (1024 bytes); if the model is legitimately this large, raise the limit with --max-config-size", len(cfg))},
		{"deep.json", deep, safeio.Limits{}, "deep.json: "},
		{"cut.json", string(cfg[:len(cfg)/2]), safeio.Limits{}, "cut.json: "},
		{"nul.json", "{\x00}", safeio.Limits{}, "nul.json: "},
		{"huge.json", `{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 10000000, 10000000, 10000000]}},
		  {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "Dense", "config": {"name": "d", "units": 4}}]}}`, safeio.Limits{},
			`huge.json: input "in": shape [10000000 10000000 10000000] has more than 2147483647 elements`},
		{"units.json", `{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 4]}},
		  {"class_name": "Dense", "config": {"name": "d", "units": 4000000000000000000}}]}}`, safeio.Limits{},
			"units.json: "},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadArchitecture(p, Options{Limits: c.limits})
		if err == nil || !strings.Contains(err.Error(), p[:len(p)-len(c.name)]+c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed seed corpus of FuzzKerasZip")

// FuzzKerasZip imports arbitrary bytes as a .keras archive: errors naming
// the file are fine, panics are not, any graph must pass Verify, and memory
// stays bounded by the limits. Seeds: the bundled archive, one whose
// weights entry lies about its size, one whose config.json is cut, and one
// without weights (go test -run FuzzKerasZip -update-seeds rewrites them).
func FuzzKerasZip(f *testing.F) {
	cfg := keras3Zip(f)
	seeds := [][]byte{
		cfg,
		keras3Zip(f, rawEntry{"model.weights.h5", make([]byte, 4096), 10}),
		keras3Zip(f, rawEntry{"config.json", []byte(`{"class_name": "Sequential", "config": {"layers": [`), -1}),
		keras3Zip(f, rawEntry{"model.weights.h5", nil, -1}),
	}
	if *updateSeeds {
		if err := fuzzseed.Write("FuzzKerasZip", seeds...); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	limits := safeio.Limits{Unpacked: 1 << 20, Config: 1 << 20}.OrDefault()
	f.Fuzz(func(t *testing.T, data []byte) {
		var g *ir.Graph
		var err error
		n := safeio.Allocated(func() { g, err = loadZip("fuzz.keras", data, Options{Limits: limits}, true) })
		checkImported(t, "fuzz.keras", g, err)
		// JSON decoding costs a multiple of the 1 MiB config; the
		// entries and datasets together stay within the 1 MiB budget.
		if bound := uint64(96<<20 + 64*len(data)); n > bound {
			t.Fatalf("importing %d bytes allocated %d bytes (bound %d)", len(data), n, bound)
		}
	})
}

// TestSavedModelSpecialFiles replaces each file a SavedModel directory's
// import reads (keras_metadata.pb, the checkpoint index and shard) with a
// FIFO in turn: each is refused at once.
func TestSavedModelSpecialFiles(t *testing.T) {
	t.Parallel()
	const src = "../testdata/models/qk_conv_savedmodel"
	for _, rel := range []string{"keras_metadata.pb", "variables/variables.index", "variables/variables.data-00000-of-00001"} {
		dir := filepath.Join(t.TempDir(), "m")
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, rel)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadWithin(t, dir, Options{})
		if !errors.Is(err, safeio.ErrSpecial) || !strings.Contains(err.Error(), p+" is a named pipe (FIFO)") {
			t.Errorf("%s as a FIFO: err = %v", rel, err)
		}
	}
}
