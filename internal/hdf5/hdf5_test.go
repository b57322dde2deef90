package hdf5

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ramp mirrors make_testfiles.py: element i is i*scale + offset.
func ramp(n int, scale, offset float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)*scale + offset
	}
	return out
}

func open(t testing.TB, name string) *File {
	t.Helper()
	f, err := Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func attr(t *testing.T, g interface{ Attr(string) (*Attr, bool) }, name string) *Attr {
	t.Helper()
	a, ok := g.Attr(name)
	if !ok {
		t.Fatalf("attribute %q missing", name)
	}
	return a
}

func dataset(t *testing.T, g *Group, p string) *Dataset {
	t.Helper()
	d, err := g.Dataset(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStringAttrs(t *testing.T) {
	root := open(t, "basic.h5").Root()
	for _, tc := range []struct {
		name  string
		shape []int
		want  []string
	}{
		{"keras_version", nil, []string{"2.4.0"}},
		{"backend", nil, []string{"tensorflow"}},
		{"unicode", nil, []string{"\u00b5-law \u2713"}},
		{"str_list", []int{3}, []string{"dense", "conv2d_1", "batch_normalization"}},
		{"fixed_list", []int{3}, []string{"alpha", "be", "gamma_long"}},
		{"fixed_scalar", nil, []string{"fixed scalar"}},
	} {
		a := attr(t, root, tc.name)
		if !a.IsString() {
			t.Errorf("%s: IsString() = false", tc.name)
		}
		if diff := cmp.Diff(tc.shape, a.Shape()); diff != "" {
			t.Errorf("%s shape (-want +got):\n%s", tc.name, diff)
		}
		got, err := a.Strings()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if len(tc.want) == 1 {
			s, err := a.String()
			if err != nil || s != tc.want[0] {
				t.Errorf("%s: String() = %q, %v", tc.name, s, err)
			}
		} else if _, err := a.String(); err == nil {
			t.Errorf("%s: String() on %d strings succeeded", tc.name, len(tc.want))
		}
		if _, err := a.Float64s(); err == nil {
			t.Errorf("%s: Float64s on a string succeeded", tc.name)
		}
	}
}

func TestNumericAttrs(t *testing.T) {
	root := open(t, "basic.h5").Root()
	for _, tc := range []struct {
		name  string
		shape []int
		want  []float64
		ints  []int64
	}{
		{"empty_list", []int{0}, []float64{}, []int64{}},
		{"int_scalar", nil, []float64{-7}, []int64{-7}},
		{"float_scalar", nil, []float64{0.25}, nil},
		{"int64_array", []int{4}, []float64{1, -2, 3, 1 << 40}, []int64{1, -2, 3, 1 << 40}},
		{"uint8_array", []int{3}, []float64{0, 200, 255}, []int64{0, 200, 255}},
		{"float32_array", []int{2}, []float64{1.5, -2.25}, nil},
		{"be_int16", []int{2}, []float64{-300, 300}, []int64{-300, 300}},
		{"flag", nil, []float64{1}, []int64{1}},
	} {
		a := attr(t, root, tc.name)
		if a.IsString() {
			t.Errorf("%s: IsString() = true", tc.name)
		}
		if diff := cmp.Diff(tc.shape, a.Shape()); diff != "" {
			t.Errorf("%s shape (-want +got):\n%s", tc.name, diff)
		}
		got, err := a.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		ints, err := a.Int64s()
		if tc.ints == nil {
			if err == nil {
				t.Errorf("%s: Int64s on non-integral floats succeeded", tc.name)
			}
		} else if diff := cmp.Diff(tc.ints, ints); err != nil || diff != "" {
			t.Errorf("%s Int64s: %v (-want +got):\n%s", tc.name, err, diff)
		}
		if _, err := a.Strings(); err == nil {
			t.Errorf("%s: Strings on numbers succeeded", tc.name)
		}
	}
	wantOrder := []string{"keras_version", "backend", "unicode", "str_list", "fixed_list", "fixed_scalar",
		"empty_list", "int_scalar", "float_scalar", "int64_array", "uint8_array", "float32_array", "be_int16", "flag"}
	if diff := cmp.Diff(wantOrder, root.Attrs()); diff != "" {
		t.Errorf("attribute order (-want +got):\n%s", diff)
	}
}

func TestElementTypes(t *testing.T) {
	types := open(t, "basic.h5").Root()
	for _, name := range []string{"f32", "f64", "f16", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
		"be_f32", "be_f64", "be_f16", "be_i32", "be_u16", "be_i64"} {
		d := dataset(t, types, "types/"+name)
		scale, off := 1.0, 0.0
		if strings.Contains(name, "f") {
			scale = 0.75
		}
		if !strings.Contains(name, "u") {
			off = -5
		}
		want := ramp(10, scale, off)
		if diff := cmp.Diff([]int{2, 5}, d.Shape()); diff != "" {
			t.Errorf("%s shape (-want +got):\n%s", name, diff)
		}
		got, err := d.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s Float64s (-want +got):\n%s", name, diff)
		}
		got32, err := d.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if float64(got32[i]) != want[i] {
				t.Errorf("%s Float32s[%d] = %v, want %v", name, i, got32[i], want[i])
			}
		}
		wantType := map[byte]string{'f': "float", 'i': "int", 'u': "uint"}[strings.TrimPrefix(name, "be_")[0]] +
			map[byte]string{'6': "16", '8': "8", '2': "32", '4': "64"}[name[len(name)-1]]
		if d.DType() != wantType {
			t.Errorf("%s: DType() = %q, want %q", name, d.DType(), wantType)
		}
		if _, ok := d.Attr("dtype"); !ok {
			t.Errorf("%s: dataset attribute missing", name)
		}
	}
	for p, want := range map[string][]float64{"types/scalar": {3.25}, "types/empty": {}, "types/empty2d": {}} {
		got, err := dataset(t, types, p).Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", p, diff)
		}
	}
	if s := dataset(t, types, "types/scalar").Shape(); len(s) != 0 {
		t.Errorf("scalar shape = %v", s)
	}
}

func TestHalfToFloat32(t *testing.T) {
	for bits, want := range map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x03ff: 6.097555e-05,
		0x8001: -5.9604645e-08, 0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)),
	} {
		if got := halfToFloat32(bits); got != want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", bits, got, want)
		}
	}
	if got := halfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat32(NaN) = %v", got)
	}
	if got := halfToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("halfToFloat32(-0) = %v", got)
	}
}

func TestLayouts(t *testing.T) {
	lay, err := open(t, "basic.h5").Root().Group("layouts")
	if err != nil {
		t.Fatal(err)
	}
	partial := make([]float64, 36)
	for i := range partial {
		partial[i] = -1.5
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			partial[r*6+c] = float64(r*3 + c + 1)
		}
	}
	for _, tc := range []struct {
		name   string
		layout int
		shape  []int
		want   []float64
	}{
		{"contiguous", layoutContiguous, []int{4, 3}, ramp(12, 1, 0)},
		{"compact", layoutCompact, []int{2, 3}, ramp(6, 1.5, 1)},
		{"gzip_shuffle_fletcher", layoutChunked, []int{37, 23}, ramp(37*23, 0.125, -50)},
		{"gzip_i16", layoutChunked, []int{5, 7, 3}, ramp(105, 3, -100)},
		{"shuffle_be_f64", layoutChunked, []int{10}, ramp(10, -0.5, 1)},
		{"fletcher_only", layoutChunked, []int{9}, ramp(9, 2, 0)},
		{"chunked_partial", layoutChunked, []int{6, 6}, partial},
		{"unallocated", layoutContiguous, []int{2, 3}, []float64{3.5, 3.5, 3.5, 3.5, 3.5, 3.5}},
		{"chunked_unwritten", layoutChunked, []int{3, 4}, []float64{-0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5}},
		{"unallocated_zero", layoutContiguous, []int{4}, []float64{0, 0, 0, 0}},
		{"gzip_f16", layoutChunked, []int{11}, ramp(11, 0.5, -2)},
	} {
		d := dataset(t, lay, tc.name)
		if d.layout != tc.layout {
			t.Errorf("%s: layout %d, want %d", tc.name, d.layout, tc.layout)
		}
		if d.Path() != "/layouts/"+tc.name {
			t.Errorf("Path() = %q", d.Path())
		}
		if diff := cmp.Diff(tc.shape, d.Shape()); diff != "" {
			t.Errorf("%s shape (-want +got):\n%s", tc.name, diff)
		}
		got, err := d.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	// The filters really were applied: the test file must exercise them.
	d := dataset(t, lay, "gzip_shuffle_fletcher")
	var ids []uint16
	for _, f := range d.filters {
		ids = append(ids, f.id)
	}
	if diff := cmp.Diff([]uint16{filterShuffle, filterDeflate, filterFletcher32}, ids); diff != "" {
		t.Errorf("filters (-want +got):\n%s", diff)
	}
}

func TestFletcherMismatch(t *testing.T) {
	data, err := os.ReadFile("testdata/basic.h5")
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes("basic.h5", data)
	if err != nil {
		t.Fatal(err)
	}
	d := dataset(t, f.Root(), "layouts/fletcher_only")
	refs, err := f.chunks(d.addr, 1)
	if err != nil || len(refs) != 3 {
		t.Fatalf("chunks: %v, %v", refs, err)
	}
	// Flip one data bit of the second chunk (not compressed) in a copy.
	bad := append([]byte(nil), data...)
	bad[f.base+refs[1].addr] ^= 0x10
	f2, err := OpenBytes("bad.h5", bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dataset(t, f2.Root(), "layouts/fletcher_only").Float32s()
	if err == nil || !strings.Contains(err.Error(), "fletcher32 checksum mismatch") ||
		!strings.HasPrefix(err.Error(), "bad.h5: /layouts/fletcher_only: chunk at [4]") {
		t.Errorf("corrupt chunk: err = %v", err)
	}
	// Words 0x0102 and 0x0300: sum1 = 0x0402, sum2 = 0x0102 + 0x0402.
	if got := fletcher32([]byte{1, 2, 3}); got != 0x05040402 {
		t.Errorf("fletcher32(odd length) = %#x", got)
	}
}

func TestContinuationBlocks(t *testing.T) {
	f := open(t, "basic.h5")
	g, err := f.Root().Group("many_attrs")
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.readObjectHeader(g.f.root.members["many_attrs"].header)
	if err != nil {
		t.Fatal(err)
	}
	if h.chunks < 2 {
		t.Errorf("header has %d chunks; the test file should need continuation blocks", h.chunks)
	}
	names := g.Attrs()
	if len(names) != 40 {
		t.Fatalf("%d attributes, want 40", len(names))
	}
	for i, n := range names {
		s, err := attr(t, g, n).String()
		if want := strings.TrimPrefix(n, "attr_"); err != nil || s != "value number "+strings.TrimLeft(want, "0") && !(want == "00" && s == "value number 0") {
			t.Errorf("attribute %d %s = %q, %v", i, n, s, err)
		}
	}
}

func TestBigGroup(t *testing.T) {
	f := open(t, "big_group.h5")
	g, err := f.Root().Group("layers")
	if err != nil {
		t.Fatal(err)
	}
	// The group's B-tree must have internal nodes for this test to mean anything.
	m, _ := mustHeader(t, f, f.root.members["layers"].header).find(msgSymbolTable)
	node, err := f.readBTreeNode(f.newReader(m.data).addr(), 0, f.lenSize)
	if err != nil || node.level == 0 {
		t.Fatalf("root B-tree node level %v, err %v; want an internal node", node, err)
	}
	members := g.Members()
	if len(members) != 320 {
		t.Fatalf("%d members, want 320", len(members))
	}
	names, err := attr(t, g, "names").Strings()
	if err != nil || len(names) != 320 {
		t.Fatalf("names attribute: %d, %v", len(names), err)
	}
	for i, name := range members {
		want := "layer_" + pad3(i)
		if name != want || names[i] != want+"_with_a_longer_name" {
			t.Fatalf("member %d = %q (attr %q), want %q", i, name, names[i], want)
		}
		if g.IsGroup(name) != (i%2 == 0) {
			t.Errorf("IsGroup(%q) = %v", name, !(i%2 == 0))
		}
		if i%2 == 0 {
			sub, err := g.Group(name)
			if err != nil {
				t.Fatal(err)
			}
			v, err := attr(t, sub, "index").Int64s()
			if err != nil || len(v) != 1 || v[0] != int64(i) {
				t.Errorf("%s index = %v, %v", name, v, err)
			}
			continue
		}
		v, err := dataset(t, g, name).Float32s()
		if err != nil || len(v) != 1 || v[0] != float32(i) {
			t.Errorf("%s = %v, %v", name, v, err)
		}
	}
}

func pad3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

func mustHeader(t *testing.T, f *File, addr uint64) *objectHeader {
	t.Helper()
	h, err := f.readObjectHeader(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestH5py2Style(t *testing.T) {
	root := open(t, "h5py2_style.h5").Root()
	cfg, err := attr(t, root, "model_config").String()
	if err != nil || cfg != `{"class_name": "Sequential", "config": {"name": "m"}}` {
		t.Errorf("model_config = %q, %v", cfg, err)
	}
	mw, err := root.Group("model_weights")
	if err != nil {
		t.Fatal(err)
	}
	layers, err := attr(t, mw, "layer_names").Strings()
	if diff := cmp.Diff([]string{"dense_1", "activation_1"}, layers); err != nil || diff != "" {
		t.Errorf("layer_names: %v (-want +got):\n%s", err, diff)
	}
	act, err := mw.Group("activation_1")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := attr(t, act, "weight_names").Strings(); err != nil || len(w) != 0 {
		t.Errorf("empty S weight_names = %q, %v", w, err)
	}
	wn, err := attr(t, mustGroup(t, mw, "dense_1"), "weight_names").Strings()
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range wn {
		v, err := dataset(t, mustGroup(t, mw, "dense_1"), n).Float32s()
		if err != nil || len(v) != []int{4, 2}[i] {
			t.Errorf("%s = %v, %v", n, v, err)
		}
	}
}

func mustGroup(t *testing.T, g *Group, p string) *Group {
	t.Helper()
	sub, err := g.Group(p)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func TestNewerFormatRejected(t *testing.T) {
	_, err := Open("testdata/latest.h5")
	if err == nil {
		t.Fatal("libver='latest' file opened")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "testdata/latest.h5: ") || !strings.Contains(msg, "superblock version 3") ||
		!strings.Contains(msg, "libver='earliest'") {
		t.Errorf("error = %q", msg)
	}
}

func TestTrackOrderRejected(t *testing.T) {
	_, err := Open("testdata/track_order.h5")
	wantErr(t, err, "testdata/track_order.h5: /: version-2 object header")
	wantErr(t, err, "track_order=False")
}

func TestOpenMissing(t *testing.T) {
	_, err := Open("testdata/nope.h5")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/nope.h5: ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
	_, err = OpenBytes("mem.h5", []byte("not hdf5 at all"))
	wantErr(t, err, "mem.h5: not an HDF5 file")
}

func TestUserBlock(t *testing.T) {
	f := open(t, "userblock.h5")
	if f.base != 512 {
		t.Errorf("base address %d, want 512", f.base)
	}
	got, err := dataset(t, f.Root(), "x").Float64s()
	if diff := cmp.Diff(ramp(5, 1, 1), got); err != nil || diff != "" {
		t.Errorf("x: %v (-want +got):\n%s", err, diff)
	}
	if s, err := attr(t, f.Root(), "name").String(); err != nil || s != "with user block" {
		t.Errorf("name = %q, %v", s, err)
	}
}

func TestPaths(t *testing.T) {
	f := open(t, "basic.h5")
	root := f.Root()
	if root.Path() != "/" {
		t.Errorf("root path %q", root.Path())
	}
	if mustGroup(t, root, "/") != root || mustGroup(t, root, ".") != root {
		t.Error(`Group("/") or Group(".") is not the root`)
	}
	if !root.Has("dangling") || root.Has("nope") || root.IsGroup("dangling") {
		t.Error("Has/IsGroup on the dangling link")
	}
	dense := mustGroup(t, root, "model_weights/dense")
	if dense.Path() != "/model_weights/dense" || !root.IsGroup("model_weights") || root.IsGroup("nope") {
		t.Errorf("dense path %q", dense.Path())
	}
	if dense.IsGroup("dense/kernel:0") {
		t.Error("IsGroup on a dataset path = true")
	}
	k := dataset(t, dense, "dense/kernel:0")
	if k.Path() != "/model_weights/dense/dense/kernel:0" {
		t.Errorf("kernel path %q", k.Path())
	}
	if abs := dataset(t, dense, "/model_weights/dense/dense/bias:0"); abs.Path() != "/model_weights/dense/dense/bias:0" {
		t.Errorf("absolute path %q", abs.Path())
	}
	got, err := k.Float32s()
	if err != nil || len(got) != 12 || got[11] != 4.5 {
		t.Errorf("kernel = %v, %v", got, err)
	}
	// Soft links resolve; dangling ones fail with a clear error.
	if via := mustGroup(t, root, "link_to_dense"); via.Path() != "/model_weights/dense" {
		t.Errorf("soft link resolved to %q", via.Path())
	}
	for _, tc := range []struct {
		do   func() error
		want string
	}{
		{func() error { _, err := root.Group("model_weights/nope"); return err }, `basic.h5: /model_weights: no member "nope"`},
		{func() error { _, err := root.Dataset("model_weights/dense"); return err }, "basic.h5: /model_weights/dense: is a group, not a dataset"},
		{func() error { _, err := root.Group("types/f32"); return err }, "basic.h5: /types/f32: is a dataset, not a group"},
		{func() error { _, err := root.Group(""); return err }, `basic.h5: /: empty path`},
		{func() error { _, err := root.Group("dangling"); return err }, `soft link /dangling -> "/no/such/object"`},
		{func() error { _, err := mustGroup(t, root, "types").Dataset("../f32"); return err }, `no member ".."`},
	} {
		err := tc.do()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "testdata/basic.h5") && !strings.HasPrefix(err.Error(), "soft link") {
			t.Errorf("err = %v, want it to contain %q", err, tc.want)
		}
	}
}

// TestConcurrentReads backs the package doc's claim that a File may be
// read from several goroutines (run with -race to check it).
func TestConcurrentReads(t *testing.T) {
	f := open(t, "basic.h5")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			budget := 1000
			errs <- walkAll(f.Root(), 0, &budget, nil)
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
