package hdf5

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/internal/sharedmodels"
)

var modelsDir = sharedmodels.Dir()

// walkAll opens every member, reads every attribute and every dataset
// below g, and returns the first error. Depth and object counts are capped
// because hard links may form cycles.
func walkAll(g *Group, depth int, budget *int, visit func(*Dataset, []float32)) error {
	for _, name := range g.Attrs() {
		a, _ := g.Attr(name)
		if err := readAttr(a); err != nil {
			return err
		}
	}
	if depth > 8 {
		return nil
	}
	for _, m := range g.Members() {
		if *budget--; *budget < 0 {
			return nil
		}
		if m == "dangling" && g.Path() == "/" {
			continue // basic.h5's deliberately broken soft link (tested in TestPaths)
		}
		if g.IsGroup(m) {
			sub, err := g.Group(m)
			if err != nil {
				return err
			}
			if err := walkAll(sub, depth+1, budget, visit); err != nil {
				return err
			}
			continue
		}
		d, err := g.Dataset(m)
		if err != nil {
			return err
		}
		for _, name := range d.Attrs() {
			a, _ := d.Attr(name)
			if err := readAttr(a); err != nil {
				return err
			}
		}
		v, err := d.Float32s()
		if err != nil {
			return err
		}
		if visit != nil {
			visit(d, v)
		}
	}
	return nil
}

func readAttr(a *Attr) error {
	_ = a.Shape()
	if a.IsString() {
		_, err := a.Strings()
		return err
	}
	_, err := a.Float64s()
	return err
}

type modelExpect struct {
	Datasets map[string][]json.RawMessage // path -> [shape, sum, abs sum]
	Strings  map[string][2]json.RawMessage
}

// TestSharedModels reads every dataset and string attribute of the real
// Keras files and compares them with h5py's view (testdata/models_expected.json).
func TestSharedModels(t *testing.T) {
	modelsDir := sharedmodels.Require(t)
	var files []string
	filepath.WalkDir(modelsDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".h5") || strings.HasSuffix(p, ".keras")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no .h5 or .keras files under %s", modelsDir)
	}
	raw, err := os.ReadFile("testdata/models_expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]modelExpect
	if err := json.Unmarshal(raw, &expect); err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		rel, _ := filepath.Rel(modelsDir, p)
		t.Run(rel, func(t *testing.T) {
			f, err := openModel(p)
			if err != nil {
				t.Fatal(err)
			}
			exp, ok := expect[rel]
			if !ok {
				t.Fatalf("%s missing from models_expected.json; rerun make_testfiles.py", rel)
			}
			weights := f.Root()
			if weights.IsGroup("model_weights") {
				if weights, err = f.Root().Group("model_weights"); err != nil {
					t.Fatal(err)
				}
				cfg, ok := f.Root().Attr("model_config")
				if !ok {
					t.Fatal("full-model file without model_config")
				}
				if _, err := cfg.String(); err != nil {
					t.Fatal(err)
				}
			}
			for key, want := range exp.Strings {
				a, ok := f.Root().Attr(key)
				if !ok {
					t.Fatalf("attribute %s missing", key)
				}
				s, err := a.String()
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256([]byte(s))
				if got := `"` + hex.EncodeToString(sum[:]) + `"`; got != string(want[1]) {
					t.Errorf("attribute %s: sha256 %s, want %s", key, got, want[1])
				}
			}
			seen := 0
			budget := 100000
			err = walkAll(weights, 0, &budget, func(d *Dataset, v []float32) {
				e, ok := exp.Datasets[d.Path()]
				if !ok {
					t.Errorf("%s not in the manifest", d.Path())
					return
				}
				seen++
				var shape []int
				var sum, abs float64
				json.Unmarshal(e[0], &shape)
				json.Unmarshal(e[1], &sum)
				json.Unmarshal(e[2], &abs)
				if len(shape) != len(d.Shape()) {
					t.Errorf("%s: shape %v, want %v", d.Path(), d.Shape(), shape)
				}
				for i := range shape {
					if shape[i] != d.Shape()[i] {
						t.Errorf("%s: shape %v, want %v", d.Path(), d.Shape(), shape)
					}
				}
				f64, err := d.Float64s()
				if err != nil {
					t.Fatal(err)
				}
				var gotSum, gotAbs float64
				for i, x := range f64 {
					gotSum += x
					gotAbs += math.Abs(x)
					if float32(x) != v[i] && !math.IsNaN(x) {
						t.Fatalf("%s[%d]: Float32s %v vs Float64s %v", d.Path(), i, v[i], x)
					}
				}
				if math.Abs(gotSum-sum) > 1e-9*(1+abs) || math.Abs(gotAbs-abs) > 1e-9*(1+abs) {
					t.Errorf("%s: sum %v abs %v, h5py says %v %v", d.Path(), gotSum, gotAbs, sum, abs)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for p := range exp.Datasets {
				if weights.Path() == "/" || strings.HasPrefix(p, weights.Path()+"/") {
					want++
				}
			}
			if seen == 0 || seen != want {
				t.Errorf("read %d datasets under %s, h5py lists %d", seen, weights.Path(), want)
			}
		})
	}
}

// openModel opens a .h5 file, or the weights inside a Keras 3 .keras zip
// (read from memory).
func openModel(p string) (*File, error) {
	if !strings.HasSuffix(p, ".keras") {
		return Open(p)
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	r, err := z.Open("model.weights.h5")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return OpenBytes(p+"/model.weights.h5", data)
}

// TestTruncated opens every prefix (small files) or a stride of prefixes of
// each test file: each must fail cleanly. With the end-of-file check
// disabled, the parsers themselves must notice the missing bytes.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"small.h5", "h5py2_style.h5", "userblock.h5", "basic.h5"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		stride := 1
		if len(data) > 12000 {
			stride = 7
		}
		if testing.Short() {
			stride *= 5
		}
		for n := 0; n < len(data); n += stride {
			prefix := data[:n:n]
			if _, err := OpenBytes(name, prefix); err == nil {
				t.Fatalf("%s truncated to %d bytes opened without error", name, n)
			} else if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error does not start with the file name: %v", err)
			}
			// Without the size check, some prefixes parse partially; they
			// must still not panic, and reading everything must fail.
			f, err := openBytes(name, prefix, false, safeio.DefaultUnpacked)
			if err != nil {
				continue
			}
			budget := 10000
			if err := walkAll(f.Root(), 0, &budget, nil); err == nil && n < len(data)-64 {
				// Trailing free space may be cut without loss; anything more is data.
				t.Errorf("%s truncated to %d of %d bytes read completely", name, n, len(data))
			}
		}
	}
}

// TestCorrupted flips bytes across the small file: every result is either a
// clean error or a successful read, never a panic or a hang.
func TestCorrupted(t *testing.T) {
	data, err := os.ReadFile("testdata/small.h5")
	if err != nil {
		t.Fatal(err)
	}
	flips := []byte{0xff, 0x80, 0x01}
	if testing.Short() {
		flips = flips[:1]
	}
	for i := 0; i < len(data); i++ {
		for _, x := range flips {
			bad := append([]byte(nil), data...)
			bad[i] ^= x
			f, err := OpenBytes("bad.h5", bad)
			if err != nil {
				continue
			}
			budget := 1000
			walkAll(f.Root(), 0, &budget, nil)
		}
	}
}

// FuzzOpen parses arbitrary bytes and reads everything reachable. Its seed
// corpus (testdata/fuzz/FuzzOpen) holds the small generated files.
func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// A 1 MiB budget keeps executions fast; the budget itself is
		// tested in TestUnpackedBudget.
		file, err := openBytes("fuzz.h5", data, false, 1<<20)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.h5: ") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		budget := 200
		n := safeio.Allocated(func() { walkAll(file.Root(), 0, &budget, nil) })
		// Every dataset read costs at most the file's bytes or the 1 MiB
		// budget, converted to float32 (4 bytes from 1-byte integers).
		if bound := uint64(64<<20 + 200*len(data)); n > bound {
			t.Fatalf("reading a %d-byte file allocated %d bytes (bound %d)", len(data), n, bound)
		}
	})
}

// BenchmarkOpenLargest opens the largest shared model and reads all weights.
func BenchmarkOpenLargest(b *testing.B) {
	path := modelsDir + "/qkeras/mlperf-tiny-v0.7/RN07_model_best.h5"
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s absent: %v", path, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		w, err := f.Root().Group("model_weights")
		if err != nil {
			b.Fatal(err)
		}
		budget := 100000
		if err := walkAll(w, 0, &budget, nil); err != nil {
			b.Fatal(err)
		}
	}
}
