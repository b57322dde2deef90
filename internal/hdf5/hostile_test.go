package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/safeio"
)

// synthetic returns a File over hand-built bytes with 8-byte addresses.
func synthetic(data []byte) *File {
	return &File{name: "syn.h5", data: data, offSize: 8, lenSize: 8, limit: 16 << 20}
}

type builder struct{ bytes.Buffer }

func (b *builder) u8(v uint8)   { b.WriteByte(v) }
func (b *builder) u16(v uint16) { binary.Write(b, binary.LittleEndian, v) }
func (b *builder) u32(v uint32) { binary.Write(b, binary.LittleEndian, v) }
func (b *builder) u64(v uint64) { binary.Write(b, binary.LittleEndian, v) }

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("err = %v, want it to contain %q", err, substr)
	}
}

func TestBTreeCycle(t *testing.T) {
	// A level-1 group B-tree node whose only child is itself.
	var b builder
	b.WriteString("TREE")
	b.u8(0)
	b.u8(1)
	b.u16(1)
	b.u64(undefined)
	b.u64(undefined)
	b.u64(0) // key 0
	b.u64(0) // child 0: this node
	b.u64(0) // key 1
	err := synthetic(b.Bytes()).walkBTree(0, 0, 8, func([]byte, uint64) error { return nil })
	wantErr(t, err, "referenced twice")

	// The same node claiming a huge level is rejected before recursing.
	data := b.Bytes()
	data[5] = 200
	err = synthetic(data).walkBTree(0, 0, 8, func([]byte, uint64) error { return nil })
	wantErr(t, err, "too deep")

	// An entry count beyond the file is a bounds error, not an allocation.
	data[5], data[6], data[7] = 0, 0xff, 0xff
	err = synthetic(data).walkBTree(0, 0, 8, func([]byte, uint64) error { return nil })
	wantErr(t, err, "run past the end of the file")
}

func TestContinuationCycle(t *testing.T) {
	// A version-1 header whose continuation message points back at its own block.
	var b builder
	b.u8(1)
	b.u8(0)
	b.u16(1)
	b.u32(1)
	b.u32(24) // header data size
	b.u32(0)  // padding
	b.u16(msgContinuation)
	b.u16(16)
	b.u8(0)
	b.Write([]byte{0, 0, 0})
	b.u64(16) // continuation address: the first block
	b.u64(24)
	_, err := synthetic(b.Bytes()).readObjectHeader(0)
	wantErr(t, err, "forms a cycle")
}

func TestHostileSizes(t *testing.T) {
	// A dataspace of 2^40 x 2^40 elements is refused before any allocation.
	var b builder
	b.u8(1)
	b.u8(2)
	b.u8(0)
	b.u8(0)
	b.u32(0)
	b.u64(1 << 40)
	b.u64(1 << 40)
	_, err := parseDataspace(b.Bytes(), 8, 16<<20)
	wantErr(t, err, "too many elements")

	// An inflated chunk larger than its declared size is refused.
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(make([]byte, 1<<20))
	w.Close()
	var inf inflater
	_, err = inf.inflate(z.Bytes(), 4096)
	wantErr(t, err, "inflates to more than 4096 bytes")

	// A dataset larger than the read cap is refused with a clear error.
	f := open(t, "basic.h5")
	f.limit = 1000
	d := dataset(t, f.Root(), "layouts/gzip_shuffle_fletcher")
	_, err = d.Float32s()
	wantErr(t, err, "exceeds the 1000-byte read limit")

	// Datatypes the reader does not handle are named, not misread.
	_, err = parseDatatype([]byte{6, 0, 0, 0, 8, 0, 0, 0}, 0)
	wantErr(t, err, "datatype class 6")
	_, err = parseDatatype([]byte{0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 24, 0}, 0)
	wantErr(t, err, "integer datatype of 3 bytes")
}

func TestUnsupportedFilter(t *testing.T) {
	// Version-2 pipeline with LZF (32000), as h5py writes for compression="lzf".
	var b builder
	b.u8(2)
	b.u8(1)
	b.u16(32000)
	b.u16(0) // name length
	b.u16(0) // flags
	b.u16(0) // client values
	_, err := parseFilters(b.Bytes())
	wantErr(t, err, "filter 32000 (lzf) is not supported")
}

func TestSuperblockVersions(t *testing.T) {
	data, err := os.ReadFile("testdata/small.h5")
	if err != nil {
		t.Fatal(err)
	}
	for v := byte(1); v <= 3; v++ {
		bad := append([]byte(nil), data...)
		bad[8] = v
		_, err := OpenBytes("v.h5", bad)
		wantErr(t, err, fmt.Sprintf("v.h5: HDF5 superblock version %d (newer file format) is not supported; "+
			"re-save with h5py defaults (libver='earliest')", v))
	}
}

// TestUnpackedBudget reads testdata/bomb.h5 (make_testfiles.py): 262 KB
// holding two gzip datasets of 128 MiB each and one declaring 4 TiB. Each
// is refused with an error naming the file, the limit and its flag, before
// the data is allocated.
//
// Not parallel: allocation is measured across the process.
func TestUnpackedBudget(t *testing.T) {
	data, err := os.ReadFile("testdata/bomb.h5")
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytesLimits("bomb.h5", data, safeio.Limits{Unpacked: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		d := dataset(t, f.Root(), name)
		var err error
		n := safeio.Allocated(func() { _, err = d.Float32s() })
		wantErr(t, err, "bomb.h5: /"+name+": dataset of 33554432 float32 elements exceeds the 67108864-byte read limit")
		wantErr(t, err, safeio.FlagUnpacked)
		if n > 1<<20 {
			t.Errorf("refusing %s allocated %d bytes", name, n)
		}
	}
	_, err = f.Root().Dataset("declared")
	wantErr(t, err, "too many elements")

	// With the default limit (32 MiB) each dataset is refused on its own.
	f, err = OpenBytes("bomb.h5", data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dataset(t, f.Root(), "a").Float32s()
	wantErr(t, err, "bomb.h5: /a: dataset of 33554432 float32 elements exceeds the 33554432-byte read limit")

	// Under a budget that fits one dataset, one reads and the second
	// would take the total past it.
	f, err = OpenBytesLimits("bomb.h5", data, safeio.Limits{Unpacked: 160 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dataset(t, f.Root(), "a").Float32s(); err != nil || len(v) != 32<<20 || v[len(v)-1] != 1 {
		t.Fatalf("dataset a: %d values, %v", len(v), err)
	}
	_, err = dataset(t, f.Root(), "b").Float32s()
	wantErr(t, err, "bomb.h5: the data decompressed or filled in by its datasets is 256 MiB (268435456 bytes), over the limit of 160 MiB (167772160 bytes); "+
		"if the model is legitimately this large, raise the limit with --max-unpacked-size (reading dataset /b)")
}
