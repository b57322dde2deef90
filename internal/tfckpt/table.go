package tfckpt

import (
	"encoding/binary"
	"fmt"
)

// The LevelDB table format TensorFlow writes its checkpoint index in
// (tensorflow/tsl/lib/io/table_builder.cc, format.cc): data blocks of
// prefix-compressed sorted entries, an index block whose values are handles
// of the data blocks, a metaindex block (empty in checkpoints), and a
// 48-byte footer ending in a magic number.
const (
	footerLen    = 48
	tableMagic   = 0xdb4775248b80fb57
	trailerLen   = 5 // block type byte + masked crc32c of contents and type
	noCompress   = 0
	snappyBlocks = 1

	maxKeyLen = 1 << 16 // longest key accepted: checkpoint keys are object paths
)

// entry is one key/value pair of a table; Value aliases the file's bytes.
type entry struct {
	key   string
	value []byte
}

// handle locates a block: offset and size of its contents, trailer excluded.
type handle struct{ off, size uint64 }

func readHandle(b []byte) (handle, int, error) {
	off, n1, err := uvarint(b)
	if err != nil {
		return handle{}, 0, fmt.Errorf("block handle offset: %w", err)
	}
	size, n2, err := uvarint(b[n1:])
	if err != nil {
		return handle{}, 0, fmt.Errorf("block handle size: %w", err)
	}
	return handle{off, size}, n1 + n2, nil
}

// readTable returns every entry of the table held in data, in key order.
// name is the file's name for errors. Every block's checksum is verified;
// keys must be strictly increasing (the format's invariant, which also
// stops an index that lists a block twice).
func readTable(name string, data []byte) ([]entry, error) {
	if len(data) < footerLen {
		return nil, fmt.Errorf("%s: %d bytes is too short for a table footer (%d bytes): truncated file?", name, len(data), footerLen)
	}
	foot := data[len(data)-footerLen:]
	if m := binary.LittleEndian.Uint64(foot[footerLen-8:]); m != tableMagic {
		return nil, fmt.Errorf("%s: bad table magic %#x (want %#x): not a TensorFlow checkpoint index, or truncated", name, m, uint64(tableMagic))
	}
	mh, n, err := readHandle(foot)
	if err != nil {
		return nil, fmt.Errorf("%s: footer: metaindex %w", name, err)
	}
	ih, _, err := readHandle(foot[n:])
	if err != nil {
		return nil, fmt.Errorf("%s: footer: index %w", name, err)
	}
	limit := uint64(len(data) - footerLen)
	// The metaindex is empty in checkpoints; its checksum is still checked
	// so that no byte of the file goes unverified.
	if _, err := readBlock(name, data, mh, limit, "metaindex block"); err != nil {
		return nil, err
	}
	index, err := readBlock(name, data, ih, limit, "index block")
	if err != nil {
		return nil, err
	}
	t := tableReader{name: name, budget: 8*len(data) + 1<<20}
	var out []entry
	var prevEnd uint64
	err = t.blockEntries(index, "index block", func(key string, v []byte) error {
		h, _, err := readHandle(v)
		if err != nil {
			return fmt.Errorf("%s: index block: entry %q: %w", name, key, err)
		}
		if h.off < prevEnd {
			return fmt.Errorf("%s: index block: entry %q: data block at %d overlaps the previous one (ends at %d)", name, key, h.off, prevEnd)
		}
		blk, err := readBlock(name, data, h, limit, fmt.Sprintf("data block at %d", h.off))
		if err != nil {
			return err
		}
		prevEnd = h.off + h.size + trailerLen // no overflow: readBlock checked it against limit
		return t.blockEntries(blk, fmt.Sprintf("data block at %d", h.off), func(k string, v []byte) error {
			if len(out) > 0 && k <= out[len(out)-1].key {
				return fmt.Errorf("%s: data block at %d: key %q follows %q: keys are not strictly increasing", name, h.off, k, out[len(out)-1].key)
			}
			out = append(out, entry{k, v})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readBlock returns the contents of the block at h after checking that it
// and its trailer lie below limit, that it is uncompressed and that its
// checksum matches.
func readBlock(name string, data []byte, h handle, limit uint64, what string) ([]byte, error) {
	if h.off > limit || h.size > limit-h.off || trailerLen > limit-h.off-h.size {
		return nil, fmt.Errorf("%s: %s: handle (offset %d, size %d) points past the end of the table (%d bytes before the footer): truncated or corrupt file", name, what, h.off, h.size, limit)
	}
	b := data[h.off : h.off+h.size+trailerLen]
	contents, typ := b[:h.size], b[h.size]
	want := binary.LittleEndian.Uint32(b[h.size+1:])
	if got := mask(crc32c(b[:h.size+1])); got != want {
		return nil, fmt.Errorf("%s: %s: checksum mismatch (stored %#08x, computed %#08x): the file is corrupt", name, what, want, got)
	}
	switch typ {
	case noCompress:
	case snappyBlocks:
		return nil, fmt.Errorf("%s: %s is snappy-compressed; TensorFlow writes checkpoint indexes uncompressed and dqnn reads only those: re-save the model with TensorFlow's defaults", name, what)
	default:
		return nil, fmt.Errorf("%s: %s has unknown compression type %d", name, what, typ)
	}
	return contents, nil
}

// tableReader decodes blocks while bounding the memory spent on keys.
type tableReader struct {
	name   string
	budget int // key bytes still allowed; prefix compression could otherwise blow up
}

// blockEntries calls fn for each entry of block b.
func (t *tableReader) blockEntries(b []byte, what string, fn func(key string, v []byte) error) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", t.name, what, fmt.Sprintf(format, a...))
	}
	if len(b) < 4 {
		return fail("%d bytes is too short for a block", len(b))
	}
	nr := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if nr == 0 || nr > uint64(len(b)-4)/4 {
		return fail("declares %d restart points, which do not fit its %d bytes", nr, len(b))
	}
	end := len(b) - 4 - int(nr)*4
	// Restart points are increasing offsets of entries whose keys share
	// nothing with the previous one; they are walked alongside the entries
	// (no table of them is built: a hostile block could declare millions).
	restart := func(i int) int { return int(binary.LittleEndian.Uint32(b[end+4*i:])) }
	if restart(0) != 0 {
		return fail("the first restart point is at offset %d, not 0", restart(0))
	}
	ri := 0
	var key []byte
	for off := 0; off < end; {
		start := off
		atRestart := false
		if ri < int(nr) {
			switch r := restart(ri); {
			case r == start:
				atRestart = true
				ri++
			case r < start:
				return fail("restart point %d at offset %d is not the start of an entry (or the points are not increasing)", ri, r)
			}
		}
		var hdr [3]uint64
		for i := range hdr {
			v, n, err := uvarint(b[off:end])
			if err != nil {
				return fail("entry at offset %d: %v", start, err)
			}
			hdr[i] = v
			off += n
		}
		shared, unshared, vlen := hdr[0], hdr[1], hdr[2]
		if shared > uint64(len(key)) {
			return fail("entry at offset %d shares %d key bytes with a %d-byte previous key", start, shared, len(key))
		}
		if atRestart && shared != 0 {
			return fail("entry at restart offset %d shares %d key bytes (must be 0)", start, shared)
		}
		if unshared > uint64(end-off) || vlen > uint64(end-off)-unshared {
			return fail("entry at offset %d declares %d key and %d value bytes, only %d remain", start, unshared, vlen, end-off)
		}
		if shared+unshared > maxKeyLen {
			return fail("entry at offset %d has a %d-byte key (at most %d accepted)", start, shared+unshared, maxKeyLen)
		}
		t.budget -= int(shared + unshared)
		if t.budget < 0 {
			return fail("keys add up to more bytes than the file could plausibly hold")
		}
		key = append(key[:shared:shared], b[off:off+int(unshared)]...)
		off += int(unshared)
		v := b[off : off+int(vlen)]
		off += int(vlen)
		if err := fn(string(key), v); err != nil {
			return err // fn's errors say where they are
		}
	}
	if end > 0 && ri < int(nr) {
		return fail("restart point %d at offset %d lies past the entries or between them", ri, restart(ri))
	}
	return nil
}
