// Package tfckpt reads the TensorFlow files a Keras SavedModel directory
// keeps its weights and Keras metadata in, in pure Go: the tensor-bundle
// checkpoint (variables/variables.index, a LevelDB-format table of
// BundleEntryProto, plus variables.data-NNNNN-of-MMMMM shards), the
// checkpoint's object graph (TrackableObjectGraph) and keras_metadata.pb
// (SavedMetadata). Every size and offset is checked against the real file
// sizes before anything is allocated, and every tensor's crc32c is verified.
package tfckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/dqnn/dqnn/internal/safeio"
)

// DType is a TensorFlow DataType enum value (tensorflow/core/framework/types.proto).
type DType int

// The data types dqnn reads or names in errors.
const (
	Float32 DType = 1
	Float64 DType = 2
	Int32   DType = 3
	String  DType = 7
	Int64   DType = 9
	Bool    DType = 10
)

var dtypeNames = map[DType]string{1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 9: "int64", 10: "bool", 14: "bfloat16", 19: "float16"}

func (d DType) String() string {
	if n, ok := dtypeNames[d]; ok {
		return n
	}
	return fmt.Sprintf("DataType(%d)", int(d))
}

// Entry describes one saved tensor (a BundleEntryProto).
type Entry struct {
	Key    string
	DType  DType
	Shape  []int
	Shard  int
	Offset int64
	Size   int64
	CRC32C uint32 // masked crc32c of the tensor's bytes in the shard
	Sliced bool   // saved as slices (partitioned variables); dqnn refuses those
}

// Bundle is an opened checkpoint: its index, parsed, and its shards' sizes.
type Bundle struct {
	index   string // the index file's path, for errors
	entries map[string]*Entry
	shards  []shard
}

type shard struct {
	path string
	size int64
}

// ObjectGraphKey is the entry holding the checkpoint's TrackableObjectGraph.
const ObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH"

// Open reads the checkpoint with the given prefix (e.g.
// "dir/variables/variables": files prefix.index and
// prefix.data-00000-of-00001 ...). It parses the whole index and checks
// every entry against its shard's size; tensors are read by Floats. The
// index is read into memory only when it is at most maxFile bytes (the
// --max-file-size limit; real indexes are a few hundred bytes per tensor).
func Open(prefix string, maxFile int64) (*Bundle, error) {
	index := prefix + ".index"
	data, err := safeio.ReadFile(index, maxFile, safeio.FlagFile)
	if err != nil {
		return nil, err
	}
	return parseIndex(prefix, data, statShard)
}

func statShard(path string) (int64, error) {
	if err := safeio.CheckRegular(path); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// parseIndex decodes an index file's bytes; size reports a shard's size.
func parseIndex(prefix string, data []byte, size func(string) (int64, error)) (*Bundle, error) {
	index := prefix + ".index"
	ents, err := readTable(index, data)
	if err != nil {
		return nil, err
	}
	if len(ents) == 0 || ents[0].key != "" {
		return nil, fmt.Errorf("%s: the table has no header entry (empty key): not a TensorFlow tensor-bundle index", index)
	}
	numShards, err := parseHeader(ents[0].value)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", index, err)
	}
	// The shard count comes from the file: it is only trusted as far as
	// the shards exist, one stat each.
	if numShards < 1 || numShards > len(ents) {
		return nil, fmt.Errorf("%s: header declares %d data shards for %d tensors", index, numShards, len(ents)-1)
	}
	b := &Bundle{index: index, entries: map[string]*Entry{}}
	for i := 0; i < numShards; i++ {
		p := fmt.Sprintf("%s.data-%05d-of-%05d", prefix, i, numShards)
		n, err := size(p)
		if err != nil {
			return nil, fmt.Errorf("%s: data shard %d of %d: %w", index, i, numShards, err)
		}
		b.shards = append(b.shards, shard{p, n})
	}
	for _, e := range ents[1:] {
		ent, err := parseEntry(e.key, e.value)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", index, e.key, err)
		}
		if ent.Sliced {
			b.entries[e.key] = ent
			continue
		}
		if ent.Shard < 0 || ent.Shard >= numShards {
			return nil, fmt.Errorf("%s: entry %q: shard %d, the header declares %d", index, e.key, ent.Shard, numShards)
		}
		sh := b.shards[ent.Shard]
		if ent.Offset < 0 || ent.Size < 0 || ent.Offset > sh.size || ent.Size > sh.size-ent.Offset {
			return nil, fmt.Errorf("%s: entry %q: bytes %d..%d lie past the end of %s (%d bytes): truncated shard or corrupt index", index, e.key, ent.Offset, ent.Offset+ent.Size, sh.path, sh.size)
		}
		b.entries[e.key] = ent
	}
	return b, nil
}

func parseHeader(b []byte) (numShards int, err error) {
	numShards = 0
	err = eachField(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(wireVarint, "num_shards"); err != nil {
				return err
			}
			if f.u > math.MaxInt32 {
				return fmt.Errorf("num_shards %d is out of range", f.u)
			}
			numShards = int(f.u)
		case 2:
			if err := f.want(wireVarint, "endianness"); err != nil {
				return err
			}
			if f.u != 0 {
				return errors.New("the checkpoint was written big-endian; dqnn reads little-endian checkpoints only")
			}
		}
		return nil
	})
	return numShards, err
}

func parseEntry(key string, b []byte) (*Entry, error) {
	e := &Entry{Key: key}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(wireVarint, "dtype"); err != nil {
				return err
			}
			e.DType = DType(int32(f.u))
		case 2:
			if err := f.want(wireBytes, "shape"); err != nil {
				return err
			}
			s, err := parseShape(f.b)
			if err != nil {
				return fmt.Errorf("shape: %w", err)
			}
			e.Shape = s
		case 3:
			if err := f.want(wireVarint, "shard_id"); err != nil {
				return err
			}
			e.Shard = int(int32(f.u))
		case 4, 5:
			if err := f.want(wireVarint, "offset/size"); err != nil {
				return err
			}
			if f.u > math.MaxInt64 {
				return fmt.Errorf("offset/size %d is negative", int64(f.u))
			}
			if f.num == 4 {
				e.Offset = int64(f.u)
			} else {
				e.Size = int64(f.u)
			}
		case 6:
			if err := f.want(wireFixed32, "crc32c"); err != nil {
				return err
			}
			e.CRC32C = uint32(f.u)
		case 7:
			e.Sliced = true
		}
		return nil
	})
	return e, err
}

// maxRank bounds a saved shape's rank.
const maxRank = 32

func parseShape(b []byte) ([]int, error) {
	shape := []int{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 2:
			if err := f.want(wireBytes, "dim"); err != nil {
				return err
			}
			if len(shape) == maxRank {
				return fmt.Errorf("more than %d dimensions", maxRank)
			}
			d := int64(0)
			err := eachField(f.b, func(g field) error {
				if g.num == 1 {
					if err := g.want(wireVarint, "dim size"); err != nil {
						return err
					}
					d = int64(g.u)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if d < 0 || d > math.MaxInt32 {
				return fmt.Errorf("dimension %d of size %d is unknown or out of range", len(shape), d)
			}
			shape = append(shape, int(d))
		case 3:
			if f.u != 0 {
				return errors.New("unknown rank")
			}
		}
		return nil
	})
	return shape, err
}

// Keys returns the keys of every saved tensor, sorted.
func (b *Bundle) Keys() []string {
	out := make([]string, 0, len(b.entries))
	for k := range b.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Entry returns the entry of key.
func (b *Bundle) Entry(key string) (*Entry, bool) {
	e, ok := b.entries[key]
	return e, ok
}

// Index returns the index file's path.
func (b *Bundle) Index() string { return b.index }

// Shards returns the data shards' paths.
func (b *Bundle) Shards() []string {
	out := make([]string, len(b.shards))
	for i, s := range b.shards {
		out[i] = s.path
	}
	return out
}

// raw reads the bytes of e from its shard and checks their crc32c.
func (b *Bundle) raw(e *Entry) ([]byte, error) {
	if e.Sliced {
		return nil, fmt.Errorf("%s: tensor %q is saved as slices (a partitioned variable), which dqnn does not read", b.index, e.Key)
	}
	sh := b.shards[e.Shard]
	f, err := safeio.Open(sh.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Open checked Offset+Size against the size the shard had then.
	buf := make([]byte, e.Size)
	if _, err := f.ReadAt(buf, e.Offset); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: reading bytes %d..%d: %w", sh.path, e.Key, e.Offset, e.Offset+e.Size, err)
	}
	if e.DType != String {
		if got := mask(crc32c(buf)); got != e.CRC32C {
			return nil, fmt.Errorf("%s: tensor %q (bytes %d..%d): crc32c mismatch (index %s says %#08x, the data gives %#08x): the shard is corrupt or belongs to another checkpoint", sh.path, e.Key, e.Offset, e.Offset+e.Size, b.index, e.CRC32C, got)
		}
	}
	return buf, nil
}

// numElements returns the element count of shape when it is at most max.
func numElements(shape []int, max int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
		if int64(d) > max/n {
			return 0, false
		}
		n *= int64(d)
	}
	return n, n <= max
}

// Floats reads a float32 or float64 tensor as float32 values (float64 is
// rounded to nearest), with its shape.
func (b *Bundle) Floats(key string) ([]float32, []int, error) {
	e, ok := b.entries[key]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no tensor %q", b.index, key)
	}
	var width int64
	switch e.DType {
	case Float32:
		width = 4
	case Float64:
		width = 8
	default:
		return nil, nil, fmt.Errorf("%s: tensor %q has dtype %s; dqnn reads float32 and float64 weights", b.index, key, e.DType)
	}
	n, ok := numElements(e.Shape, e.Size/width)
	if !ok || n*width != e.Size {
		return nil, nil, fmt.Errorf("%s: tensor %q: shape %v of %s needs a different size than the %d bytes the index gives", b.index, key, e.Shape, e.DType, e.Size)
	}
	buf, err := b.raw(e)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, n)
	for i := range out {
		if width == 4 {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		} else {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
		}
	}
	return out, append([]int(nil), e.Shape...), nil
}

// scalarString reads a scalar string tensor. TensorFlow writes it as the
// varint length, a masked crc32c of the length (as a little-endian
// uint32), then the bytes; the entry's crc32c covers the length as uint32,
// the length checksum and the bytes (tensor_bundle.cc, WriteStringTensor).
func (b *Bundle) scalarString(key string) ([]byte, error) {
	e, ok := b.entries[key]
	if !ok {
		return nil, fmt.Errorf("%s: no entry %q", b.index, key)
	}
	if e.DType != String || len(e.Shape) != 0 {
		return nil, fmt.Errorf("%s: entry %q has dtype %s and shape %v, want a scalar string", b.index, key, e.DType, e.Shape)
	}
	buf, err := b.raw(e)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%s: string tensor %q (bytes %d..%d)", b.shards[e.Shard].path, key, e.Offset, e.Offset+e.Size)
	l, n, err := uvarint(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: length: %w", where, err)
	}
	if l > math.MaxUint32 || uint64(len(buf)-n) < 4 || l != uint64(len(buf)-n-4) {
		return nil, fmt.Errorf("%s: declares %d bytes, the entry holds %d", where, l, len(buf))
	}
	var l32 [4]byte
	binary.LittleEndian.PutUint32(l32[:], uint32(l))
	c := crc32c(l32[:])
	if got := binary.LittleEndian.Uint32(buf[n:]); got != mask(c) {
		return nil, fmt.Errorf("%s: length checksum mismatch (stored %#08x, computed %#08x): the shard is corrupt", where, got, mask(c))
	}
	c = crc32cExtend(c, buf[n:])
	if mask(c) != e.CRC32C {
		return nil, fmt.Errorf("%s: crc32c mismatch (index says %#08x, the data gives %#08x): the shard is corrupt or belongs to another checkpoint", where, e.CRC32C, mask(c))
	}
	return buf[n+4:], nil
}
