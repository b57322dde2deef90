package tfckpt

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
)

// fixture is a SavedModel written by scripts/fixtures/savedmodel.py: float64
// weights in two data shards, several data blocks, optimizer slots.
const fixture = "../../testdata/models/lq_float64_savedmodel/variables/variables"

func wantErr(t *testing.T, err error, substrs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", substrs)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want it to contain %q", err, s)
		}
	}
}

// readAll opens the bundle and reads every float tensor and the object graph.
func readAll(t *testing.T, prefix string) (*Bundle, *ObjectGraph, int) {
	t.Helper()
	b, err := Open(prefix, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	og, err := b.ObjectGraph()
	if err != nil {
		t.Fatal(err)
	}
	floats := 0
	for _, k := range b.Keys() {
		e, _ := b.Entry(k)
		if e.DType != Float32 && e.DType != Float64 {
			continue
		}
		v, shape, err := b.Floats(k)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if len(v) != n {
			t.Fatalf("%s: %d values for shape %v", k, len(v), shape)
		}
		floats++
	}
	return b, og, floats
}

func TestFixture(t *testing.T) {
	t.Parallel()
	b, og, floats := readAll(t, fixture)
	if len(b.Shards()) != 2 {
		t.Errorf("shards = %v, want 2", b.Shards())
	}
	// 2 kernels + 2 Adam slots; optimizer/iter is int64.
	if floats != 4 {
		t.Errorf("read %d float tensors, want 4", floats)
	}
	id, ok := og.Child(0, "layer_with_weights-1")
	if !ok {
		t.Fatal("root has no layer_with_weights-1")
	}
	k, ok := og.Child(id, "kernel")
	if !ok {
		t.Fatal("layer_with_weights-1 has no kernel")
	}
	a, ok := og.Variable(k)
	if !ok || a.FullName != "quant_dense_1/kernel" || a.CheckpointKey != "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE" {
		t.Errorf("kernel attribute = %+v", a)
	}
	e, _ := b.Entry(a.CheckpointKey)
	if e.DType != Float64 || len(e.Shape) != 2 || e.Shape[0] != 16 || e.Shape[1] != 6 {
		t.Errorf("entry = %+v", e)
	}
	if _, _, err := b.Floats("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"); err == nil {
		t.Error("read an int64 tensor as floats")
	}
}

// TestRealCheckpoints reads the two Larq SavedModels saved by Keras 2.15
// (float64 weights, Adam slots, metrics).
func TestRealCheckpoints(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dir    string
		floats int
	}{{"savedmodel_8c480ab", 0}, {"savedmodel_e1b41a8", 0}} {
		prefix := strings.TrimSuffix(sharedmodels.Require(t, "larq", "ee4690", c.dir, "variables", "variables.index"), ".index")
		b, og, floats := readAll(t, prefix)
		if floats < 16 {
			t.Errorf("%s: %d float tensors, want at least the model's 16", c.dir, floats)
		}
		l0, _ := og.Child(0, "layer_with_weights-0")
		k, _ := og.Child(l0, "kernel")
		a, ok := og.Variable(k)
		if !ok || a.FullName != "quant_conv2d/kernel" {
			t.Errorf("%s: layer_with_weights-0/kernel = %+v", c.dir, a)
		}
		e, _ := b.Entry(a.CheckpointKey)
		if e.DType != Float64 || len(e.Shape) != 4 || e.Shape[3] != 32 {
			t.Errorf("%s: kernel entry %+v", c.dir, e)
		}
		objs, err := ReadKerasMetadata(filepath.Join(filepath.Dir(filepath.Dir(prefix)), "keras_metadata.pb"), 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		if objs[0].NodePath != "root" || objs[0].Identifier != "_tf_keras_sequential" || !strings.Contains(objs[0].Metadata, `"QuantConv2D"`) {
			t.Errorf("%s: first object %q %q", c.dir, objs[0].NodePath, objs[0].Identifier)
		}
	}
}

func readFixtureIndex(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture + ".index")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realSizes reports the fixture shards' real sizes.
func realSizes(p string) (int64, error) {
	return statShard(filepath.Join(filepath.Dir(fixture), filepath.Base(p)))
}

func TestHostileIndex(t *testing.T) {
	t.Parallel()
	good := readFixtureIndex(t)
	if _, err := parseIndex(fixture, good, realSizes); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) error {
		b := f(append([]byte(nil), good...))
		_, err := parseIndex("x/variables", b, realSizes)
		return err
	}
	// Every truncation fails with the file named, never a panic.
	for n := 0; n < len(good); n++ {
		err := mut(func(b []byte) []byte { return b[:n] })
		if err == nil || !strings.Contains(err.Error(), "x/variables.index") {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
	}
	// Every single-byte flip before the footer is caught by a block checksum
	// (or, in the trailer's type byte, by the type check).
	for i := 0; i < len(good)-footerLen; i++ {
		if err := mut(func(b []byte) []byte { b[i] ^= 0x40; return b }); err == nil {
			t.Fatalf("flipped byte %d: no error", i)
		}
	}
	wantErr(t, mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "bad table magic")
	// Index handle pointing past the end.
	wantErr(t, mut(func(b []byte) []byte {
		f := b[len(b)-footerLen:]
		mh, _, _ := readHandle(f)
		h := binary.AppendUvarint(binary.AppendUvarint(nil, mh.off), mh.size)
		h = binary.AppendUvarint(binary.AppendUvarint(h, 1<<40), 8)
		for i := range f[:40] {
			f[i] = 0
		}
		copy(f, h)
		return b
	}), "points past the end")
	// Varints that overflow 64 bits.
	wantErr(t, mut(func(b []byte) []byte {
		f := b[len(b)-footerLen:]
		for i := range f[:40] {
			f[i] = 0xff
		}
		return b
	}), "overflows 64 bits")
}

func TestHostileShards(t *testing.T) {
	t.Parallel()
	good := readFixtureIndex(t)
	// A shard shorter than the index says: refused at Open, before any read.
	_, err := parseIndex("x/variables", good, func(p string) (int64, error) { return 10, nil })
	wantErr(t, err, "past the end of x/variables.data-0000")
	_, err = parseIndex("x/variables", good, func(p string) (int64, error) { return 0, os.ErrNotExist })
	wantErr(t, err, "data shard 0 of 2")

	// A flipped byte in a shard fails that tensor's crc32c.
	dir := t.TempDir()
	src := filepath.Dir(fixture)
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.Name(), ".data-00000") {
			b[3] ^= 1
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Open(filepath.Join(dir, "variables"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	var crcErr error
	for _, k := range b.Keys() {
		if e, _ := b.Entry(k); e.Shard == 0 && e.Offset == 0 {
			if e.DType == String {
				_, crcErr = b.ObjectGraph()
			} else {
				_, _, crcErr = b.Floats(k)
			}
		}
	}
	wantErr(t, crcErr, "variables.data-00000-of-00002", "mismatch")
}

func TestHostileEntries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"huge size", []byte{0x08, 0x01, 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "negative"},
		{"truncated shape", []byte{0x12, 0x05, 0x12}, "declares 5 bytes"},
		{"negative dim", []byte{0x12, 0x0c, 0x12, 0x0a, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "unknown or out of range"},
		{"wire type", []byte{0x0b}, "wire type 3"},
	} {
		_, err := parseEntry("k", c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// A shape whose element count overflows is refused before allocating.
	b := &Bundle{index: "x.index", entries: map[string]*Entry{"k": {Key: "k", DType: Float32, Shape: []int{1 << 30, 1 << 30, 1 << 30}, Size: 64}}}
	_, _, err := b.Floats("k")
	wantErr(t, err, "needs a different size")
}

func TestHostileObjectGraph(t *testing.T) {
	t.Parallel()
	// Node 0 with a child pointing at node 5 of a one-node graph.
	_, err := ParseObjectGraph([]byte{0x0a, 0x06, 0x0a, 0x04, 0x08, 0x05, 0x12, 0x00})
	wantErr(t, err, "points at node 5")
	_, err = ParseObjectGraph(nil)
	wantErr(t, err, "no nodes")
	_, err = ParseKerasMetadata([]byte("not a protobuf at all"))
	if err == nil {
		t.Error("garbage parsed as keras_metadata.pb")
	}
}

func TestHostileBlocks(t *testing.T) {
	t.Parallel()
	block := func(entries []byte, restarts ...uint32) []byte {
		b := append([]byte(nil), entries...)
		for _, r := range restarts {
			b = binary.LittleEndian.AppendUint32(b, r)
		}
		return binary.LittleEndian.AppendUint32(b, uint32(len(restarts)))
	}
	two := []byte{0, 1, 0, 'a', 0, 1, 0, 'b'} // keys "a", "b", empty values
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"restart inside an entry", block(two, 0, 2), "not the start of an entry"},
		{"first restart not 0", block(two, 4), "not 0"},
		{"restart past the entries", block(two, 0, 4, 100), "past the entries"},
		{"too many restarts", binary.LittleEndian.AppendUint32(nil, 1<<30), "do not fit"},
		{"shared at restart", block([]byte{0, 1, 0, 'a', 1, 1, 0, 'b'}, 0, 4), "must be 0"},
		{"shares more than the key", block([]byte{0, 1, 0, 'a', 5, 1, 0, 'b'}, 0), "shares 5 key bytes"},
		{"value past the block", block([]byte{0, 1, 90, 'a'}, 0), "only 1 remain"},
	} {
		tr := tableReader{name: "t.index", budget: 1 << 20}
		err := tr.blockEntries(c.b, "data block", func(string, []byte) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "t.index: data block") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	tr := tableReader{name: "t.index", budget: 1 << 20}
	var keys []string
	if err := tr.blockEntries(block(two, 0, 4), "data block", func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil || len(keys) != 2 {
		t.Errorf("good block: keys %q, err %v", keys, err)
	}
}
