package tfckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol-buffer wire types (the subset TensorFlow's messages use).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// field is one decoded protobuf field: num and wire type, the integer
// value of varint/fixed fields, the bytes of length-delimited ones (a
// sub-slice of the message, not a copy).
type field struct {
	num  int
	wire int
	u    uint64
	b    []byte
}

var errVarint = errors.New("varint overflows 64 bits")

// uvarint decodes a base-128 varint at b[0:], returning its value and length.
func uvarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, errors.New("truncated varint")
	case n < 0:
		return 0, 0, errVarint
	}
	return v, n, nil
}

// eachField calls fn for every field of the message b in order. It never
// reads past b: lengths are checked against what is left.
func eachField(b []byte, fn func(f field) error) error {
	for off := 0; off < len(b); {
		tag, n, err := uvarint(b[off:])
		if err != nil {
			return fmt.Errorf("field tag at byte %d: %w", off, err)
		}
		off += n
		f := field{num: int(tag >> 3), wire: int(tag & 7)}
		if tag>>3 == 0 || tag>>3 > 1<<29 {
			return fmt.Errorf("field number %d at byte %d is out of range", tag>>3, off-n)
		}
		switch f.wire {
		case wireVarint:
			if f.u, n, err = uvarint(b[off:]); err != nil {
				return fmt.Errorf("field %d at byte %d: %w", f.num, off, err)
			}
			off += n
		case wireFixed64:
			if len(b)-off < 8 {
				return fmt.Errorf("field %d at byte %d: truncated fixed64", f.num, off)
			}
			f.u = binary.LittleEndian.Uint64(b[off:])
			off += 8
		case wireFixed32:
			if len(b)-off < 4 {
				return fmt.Errorf("field %d at byte %d: truncated fixed32", f.num, off)
			}
			f.u = uint64(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		case wireBytes:
			l, n, err := uvarint(b[off:])
			if err != nil {
				return fmt.Errorf("field %d at byte %d: length: %w", f.num, off, err)
			}
			off += n
			if l > uint64(len(b)-off) {
				return fmt.Errorf("field %d at byte %d: declares %d bytes, only %d remain", f.num, off, l, len(b)-off)
			}
			f.b = b[off : off+int(l)]
			off += int(l)
		default:
			return fmt.Errorf("field %d at byte %d: unsupported wire type %d", f.num, off-n, f.wire)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// want checks that f has the wire type w.
func (f field) want(w int, what string) error {
	if f.wire != w {
		return fmt.Errorf("%s (field %d) has wire type %d, want %d", what, f.num, f.wire, w)
	}
	return nil
}
