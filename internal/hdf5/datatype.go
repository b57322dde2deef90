package hdf5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dqnn/dqnn/internal/safeio"
)

// Datatype classes handled by the reader.
const (
	classFixed  = 0
	classFloat  = 1
	classString = 3
	classEnum   = 8
	classVlen   = 9
)

// maxRank bounds dataspace ranks (HDF5 itself allows 32).
const maxRank = 32

// datatype is a decoded datatype message. Enums are reduced to their base
// integer type.
type datatype struct {
	class     int
	size      int
	bigEndian bool
	signed    bool // fixed-point only
	strPad    int  // string: 0 NUL-terminated, 1 NUL-padded, 2 space-padded
	vlenStr   bool // variable-length string (as opposed to a sequence)
	base      *datatype
}

func (t *datatype) isNumeric() bool { return t.class == classFixed || t.class == classFloat }
func (t *datatype) isString() bool {
	return t.class == classString || t.class == classVlen && t.vlenStr
}

func (t *datatype) String() string {
	switch t.class {
	case classFixed:
		if t.signed {
			return fmt.Sprintf("int%d", 8*t.size)
		}
		return fmt.Sprintf("uint%d", 8*t.size)
	case classFloat:
		return fmt.Sprintf("float%d", 8*t.size)
	case classString:
		return fmt.Sprintf("fixed-length string (%d bytes)", t.size)
	case classVlen:
		if t.vlenStr {
			return "variable-length string"
		}
		return "variable-length sequence"
	}
	return fmt.Sprintf("datatype class %d", t.class)
}

// parseDatatype decodes a datatype message; depth bounds nesting.
func parseDatatype(b []byte, depth int) (*datatype, error) {
	if depth > 4 {
		return nil, errors.New("datatype nested too deeply")
	}
	r := &reader{b: b}
	cv := r.u8()
	bits := r.uint(3)
	size := r.u32()
	if r.err != nil {
		return nil, errTruncated("datatype message")
	}
	t := &datatype{class: int(cv & 0x0f), size: int(size)}
	if size == 0 || size > 1<<16 {
		return nil, fmt.Errorf("datatype size %d is invalid", size)
	}
	switch t.class {
	case classFixed:
		t.bigEndian = bits&1 != 0
		t.signed = bits&8 != 0
		off, prec := r.u16(), r.u16()
		if r.err != nil {
			return nil, errTruncated("integer datatype")
		}
		if t.size != 1 && t.size != 2 && t.size != 4 && t.size != 8 || off != 0 || int(prec) != 8*t.size {
			return nil, fmt.Errorf("integer datatype of %d bytes (offset %d, precision %d) is not supported", t.size, off, prec)
		}
	case classFloat:
		if bits&0x40 != 0 {
			return nil, errors.New("VAX floating-point byte order is not supported")
		}
		t.bigEndian = bits&1 != 0
		off, prec := r.u16(), r.u16()
		epos, esize, mpos, msize := r.u8(), r.u8(), r.u8(), r.u8()
		if r.err != nil {
			return nil, errTruncated("float datatype")
		}
		want := map[int][4]uint8{2: {10, 5, 0, 10}, 4: {23, 8, 0, 23}, 8: {52, 11, 0, 52}}[t.size]
		if want == [4]uint8{} || off != 0 || int(prec) != 8*t.size || [4]uint8{epos, esize, mpos, msize} != want {
			return nil, fmt.Errorf("non-IEEE float datatype (%d bytes, exponent %d@%d, mantissa %d@%d) is not supported",
				t.size, esize, epos, msize, mpos)
		}
	case classString:
		t.strPad = int(bits & 0x0f)
	case classVlen:
		t.vlenStr = bits&0x0f == 1
		base, err := parseDatatype(b[r.off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("variable-length base type: %w", err)
		}
		t.base = base
	case classEnum:
		base, err := parseDatatype(b[r.off:], depth+1)
		if err != nil {
			return nil, fmt.Errorf("enum base type: %w", err)
		}
		if base.class != classFixed {
			return nil, errors.New("enum with a non-integer base type is not supported")
		}
		return base, nil
	default:
		return nil, fmt.Errorf("datatype class %d (compound, reference, array, ...) is not supported", t.class)
	}
	return t, nil
}

// dataspace is a decoded dataspace message.
type dataspace struct {
	dims  []uint64 // nil for scalar and null dataspaces
	nelem uint64
}

// parseDataspace decodes a dataspace message; elements beyond limit are
// rejected so callers can allocate nelem items safely.
func parseDataspace(b []byte, lenSize int, limit uint64) (dataspace, error) {
	r := &reader{b: b, lenSize: lenSize}
	version := r.u8()
	rank := int(r.u8())
	flags := r.u8()
	kind := uint8(1)
	switch version {
	case 1:
		r.skip(5)
		if rank == 0 {
			kind = 0
		}
	case 2:
		kind = r.u8()
	default:
		if r.err == nil {
			return dataspace{}, fmt.Errorf("dataspace version %d is not supported", version)
		}
	}
	if r.err != nil {
		return dataspace{}, errTruncated("dataspace message")
	}
	if rank > maxRank {
		return dataspace{}, fmt.Errorf("dataspace rank %d exceeds %d", rank, maxRank)
	}
	switch kind {
	case 0:
		return dataspace{nelem: 1}, nil
	case 2:
		return dataspace{}, nil
	case 1:
	default:
		return dataspace{}, fmt.Errorf("dataspace type %d is unknown", kind)
	}
	ds := dataspace{dims: make([]uint64, rank), nelem: 1}
	for i := range ds.dims {
		ds.dims[i] = r.length()
	}
	if flags&1 != 0 {
		for range rank {
			r.length() // maximum dimensions: irrelevant for reading
		}
	}
	if r.err != nil {
		return dataspace{}, errTruncated("dataspace message")
	}
	n, ok := mulCheck(limit, ds.dims...)
	if !ok {
		return dataspace{}, fmt.Errorf("dataspace %v has too many elements: more than %d, the larger of the file size and the unpacked-data limit (%s)",
			ds.dims, limit, safeio.FlagUnpacked)
	}
	ds.nelem = n
	return ds, nil
}

// order returns the byte order of a numeric type.
func (t *datatype) order() binary.ByteOrder {
	if t.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// float64s converts n packed numeric elements to float64.
func (t *datatype) float64s(raw []byte, n int) ([]float64, error) {
	if !t.isNumeric() {
		return nil, fmt.Errorf("cannot convert %s to numbers", t)
	}
	out := make([]float64, n)
	o := t.order()
	for i := range out {
		p := raw[i*t.size : (i+1)*t.size]
		switch {
		case t.class == classFloat && t.size == 2:
			out[i] = float64(halfToFloat32(o.Uint16(p)))
		case t.class == classFloat && t.size == 4:
			out[i] = float64(math.Float32frombits(o.Uint32(p)))
		case t.class == classFloat:
			out[i] = math.Float64frombits(o.Uint64(p))
		case t.signed:
			out[i] = float64(signExtend(p, o, t.size))
		default:
			out[i] = float64(unsigned(p, o, t.size))
		}
	}
	return out, nil
}

// float32s converts n packed numeric elements to float32 (float64 values are
// rounded to nearest).
func (t *datatype) float32s(raw []byte, n int) ([]float32, error) {
	if !t.isNumeric() {
		return nil, fmt.Errorf("cannot convert %s to numbers", t)
	}
	out := make([]float32, n)
	o := t.order()
	switch {
	case t.class == classFloat && t.size == 4:
		for i := range out {
			out[i] = math.Float32frombits(o.Uint32(raw[4*i:]))
		}
	case t.class == classFloat && t.size == 2:
		for i := range out {
			out[i] = halfToFloat32(o.Uint16(raw[2*i:]))
		}
	default:
		f64, err := t.float64s(raw, n)
		if err != nil {
			return nil, err
		}
		for i, v := range f64 {
			out[i] = float32(v)
		}
	}
	return out, nil
}

// int64s converts n packed elements to int64; floats must be integral.
func (t *datatype) int64s(raw []byte, n int) ([]int64, error) {
	if !t.isNumeric() {
		return nil, fmt.Errorf("cannot convert %s to integers", t)
	}
	out := make([]int64, n)
	o := t.order()
	if t.class == classFloat {
		f64, _ := t.float64s(raw, n)
		for i, v := range f64 {
			if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
				return nil, fmt.Errorf("element %d (%v) is not an int64", i, v)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	for i := range out {
		p := raw[i*t.size : (i+1)*t.size]
		if t.signed {
			out[i] = signExtend(p, o, t.size)
			continue
		}
		u := unsigned(p, o, t.size)
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("element %d (%d) overflows int64", i, u)
		}
		out[i] = int64(u)
	}
	return out, nil
}

func unsigned(p []byte, o binary.ByteOrder, size int) uint64 {
	switch size {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(o.Uint16(p))
	case 4:
		return uint64(o.Uint32(p))
	}
	return o.Uint64(p)
}

func signExtend(p []byte, o binary.ByteOrder, size int) int64 {
	switch size {
	case 1:
		return int64(int8(p[0]))
	case 2:
		return int64(int16(o.Uint16(p)))
	case 4:
		return int64(int32(o.Uint32(p)))
	}
	return int64(o.Uint64(p))
}

// halfToFloat32 converts IEEE binary16 bits to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = mant * 2^-24, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
