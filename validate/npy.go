package validate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// ReadNPY reads a NumPy .npy array of any real numeric element type as
// float32 values in C order, with its shape. Fortran-ordered arrays are
// rejected (save them with np.ascontiguousarray).
func ReadNPY(path string) ([]float32, []int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := npy.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a .npy file: %w", path, err)
	}
	if r.Header.Descr.Fortran {
		return nil, nil, fmt.Errorf("%s: array is in Fortran order; save it with np.ascontiguousarray(x)", path)
	}
	shape := append([]int(nil), r.Header.Descr.Shape...)
	typ := strings.Trim(r.Header.Descr.Type, "'\" ")
	if len(typ) != 3 || (typ[0] != '<' && typ[0] != '|' && typ[0] != '=') {
		return nil, nil, fmt.Errorf("%s: element type %q is not supported (want little-endian float32, float64 or integers)", path, typ)
	}
	var out []float32
	switch typ[1:] {
	case "f4":
		err = r.Read(&out)
	case "f8":
		var v []float64
		if err = r.Read(&v); err == nil {
			out = make([]float32, len(v))
			for i, x := range v {
				out[i] = float32(x)
			}
		}
	case "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8":
		var v []int64
		if err = readInts(r, typ[1:], &v); err == nil {
			out = make([]float32, len(v))
			for i, x := range v {
				out[i] = float32(x)
			}
		}
	default:
		return nil, nil, fmt.Errorf("%s: element type %q is not supported (want float32, float64 or an integer type)", path, typ)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(out) {
		return nil, nil, fmt.Errorf("%s: shape %v holds %d values, file has %d", path, shape, n, len(out))
	}
	return out, shape, nil
}

func readInts(r *npy.Reader, kind string, dst *[]int64) error {
	conv := func(n int, at func(int) int64) {
		*dst = make([]int64, n)
		for i := range *dst {
			(*dst)[i] = at(i)
		}
	}
	switch kind {
	case "i1":
		var v []int8
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "i2":
		var v []int16
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "i4":
		var v []int32
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "i8":
		var v []int64
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return v[i] })
	case "u1":
		var v []uint8
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "u2":
		var v []uint16
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "u4":
		var v []uint32
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	case "u8":
		var v []uint64
		if err := r.Read(&v); err != nil {
			return err
		}
		conv(len(v), func(i int) int64 { return int64(v[i]) })
	}
	return nil
}

// WriteNPY writes float32 values in C order as a .npy array of the given
// shape (its product must be len(data)).
func WriteNPY(path string, data []float32, shape []int) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("writing %s: shape %v holds %d values, got %d", path, shape, n, len(data))
	}
	// The version 1.0 format is a fixed magic, a little-endian header
	// length and a Python dict literal padded with spaces to a multiple of
	// 64 bytes; written directly so the shape is exact (npy.Write records
	// slices as 1-D).
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shapeTuple(shape))
	hlen := len(dict) + 1
	hlen += (64 - (10+hlen)%64) % 64
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	b.WriteByte(byte(hlen))
	b.WriteByte(byte(hlen >> 8))
	b.WriteString(dict)
	b.WriteString(strings.Repeat(" ", hlen-len(dict)-1))
	b.WriteByte('\n')
	for _, v := range data {
		var w [4]byte
		binary.LittleEndian.PutUint32(w[:], math.Float32bits(v))
		b.Write(w[:])
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func shapeTuple(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return fmt.Sprintf("(%d,)", shape[0])
	}
	s := "("
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s + ")"
}
