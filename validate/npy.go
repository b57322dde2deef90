package validate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/internal/safeio"
)

// npyMaxHeader caps the header dictionary. NumPy writes headers of a few
// hundred bytes and its own reader refuses more than 10,000 by default.
const npyMaxHeader = 64 << 10

// npyMaxRank is NumPy 2's limit on the number of dimensions.
const npyMaxRank = 64

// ReadNPY reads a NumPy .npy array of any real numeric element type as
// float32 values in C order, with its shape, within the default file size
// limit. Fortran-ordered arrays are rejected (save them with
// np.ascontiguousarray).
func ReadNPY(path string) ([]float32, []int, error) {
	return ReadNPYLimits(path, safeio.Limits{})
}

// ReadNPYLimits is ReadNPY with the file size capped by l.File (zero: the
// default).
func ReadNPYLimits(path string, l safeio.Limits) ([]float32, []int, error) {
	data, err := safeio.ReadFile(path, l.OrDefault().File, safeio.FlagFile)
	if err != nil {
		return nil, nil, err
	}
	return ParseNPY(path, data)
}

// ParseNPY decodes a .npy file held in data; name starts every error. The
// format is read here rather than by a library so that every field is
// checked before it is used: the header length against the file and a
// cap, the dictionary by a parser for exactly the literals NumPy writes,
// and the data size implied by the shape against the bytes present, so a
// hostile header can neither panic nor allocate more than the file holds.
func ParseNPY(name string, data []byte) ([]float32, []int, error) {
	h, body, err := parseNPYHeader(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a valid .npy file: %w", name, err)
	}
	if h.fortran {
		return nil, nil, fmt.Errorf("%s: array is in Fortran order; save it with np.ascontiguousarray(x)", name)
	}
	n, ok := uint64(1), true
	for _, d := range h.shape {
		if d != 0 && n > math.MaxInt64/uint64(d) {
			ok = false
		}
		n *= uint64(d)
	}
	if !ok || n > math.MaxInt64/uint64(h.size) {
		return nil, nil, fmt.Errorf("%s: shape %v of %s declares more than 2^63 bytes of data, the file has %d", name, h.shape, h.descr, len(body))
	}
	want := n * uint64(h.size)
	switch {
	case want > uint64(len(body)):
		return nil, nil, fmt.Errorf("%s: truncated: shape %v of %s expects %d bytes of data, the file has %d", name, h.shape, h.descr, want, len(body))
	case want < uint64(len(body)):
		return nil, nil, fmt.Errorf("%s: %d bytes of trailing data after the %d bytes that shape %v of %s holds", name, uint64(len(body))-want, want, h.shape, h.descr)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = h.decode(body[i*h.size : (i+1)*h.size])
	}
	return out, h.shape, nil
}

// npyHeader is a parsed .npy header.
type npyHeader struct {
	descr   string
	shape   []int
	fortran bool
	size    int // bytes per element
	decode  func([]byte) float32
}

// parseNPYHeader checks the preamble and the header dictionary and returns
// them with the data that follows.
func parseNPYHeader(data []byte) (npyHeader, []byte, error) {
	var h npyHeader
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return h, nil, errors.New(`no "\x93NUMPY" magic at the start`)
	}
	var hlen uint64
	start := 10
	switch major, minor := data[6], data[7]; major {
	case 1:
		hlen = uint64(binary.LittleEndian.Uint16(data[8:10]))
	case 2, 3:
		if len(data) < 12 {
			return h, nil, errors.New("truncated in the preamble")
		}
		hlen, start = uint64(binary.LittleEndian.Uint32(data[8:12])), 12
	default:
		return h, nil, fmt.Errorf("format version %d.%d is not supported (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > npyMaxHeader {
		return h, nil, fmt.Errorf("header length %d is over the %d-byte limit (NumPy writes a few hundred)", hlen, npyMaxHeader)
	}
	if hlen > uint64(len(data)-start) {
		return h, nil, fmt.Errorf("truncated: the header declares %d bytes, the file has %d after the preamble", hlen, len(data)-start)
	}
	dict, err := parsePyDict(string(data[start : start+int(hlen)]))
	if err != nil {
		return h, nil, fmt.Errorf("header: %w", err)
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if _, ok := dict[k]; !ok {
			return h, nil, fmt.Errorf("header has no %q key", k)
		}
	}
	if len(dict) != 3 {
		return h, nil, fmt.Errorf("header has %d keys, want exactly descr, fortran_order and shape", len(dict))
	}
	var ok bool
	if h.descr, ok = dict["descr"].(string); !ok {
		return h, nil, errors.New("descr is not a string (structured arrays are not supported)")
	}
	if h.fortran, ok = dict["fortran_order"].(bool); !ok {
		return h, nil, errors.New("fortran_order is not True or False")
	}
	if h.shape, ok = dict["shape"].([]int); !ok {
		return h, nil, errors.New("shape is not a tuple of integers")
	}
	if h.size, h.decode, err = npyDecoder(h.descr); err != nil {
		return h, nil, err
	}
	return h, data[start+int(hlen):], nil
}

// npyDecoder returns the element size and converter of a descr such as
// "<f4": byte order "<", ">", "=" (little-endian here) or "|", kind f, i
// or u, size in bytes.
func npyDecoder(descr string) (int, func([]byte) float32, error) {
	bad := fmt.Errorf("element type %q is not supported (want float32, float64 or an integer type)", descr)
	if len(descr) < 3 || !strings.ContainsRune("<>=|", rune(descr[0])) {
		return 0, nil, bad
	}
	var order binary.ByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
	}
	type conv = func([]byte) float32
	decoders := map[string]struct {
		size int
		f    conv
	}{
		"f4": {4, func(b []byte) float32 { return math.Float32frombits(order.Uint32(b)) }},
		"f8": {8, func(b []byte) float32 { return float32(math.Float64frombits(order.Uint64(b))) }},
		"i1": {1, func(b []byte) float32 { return float32(int8(b[0])) }},
		"u1": {1, func(b []byte) float32 { return float32(b[0]) }},
		"i2": {2, func(b []byte) float32 { return float32(int16(order.Uint16(b))) }},
		"u2": {2, func(b []byte) float32 { return float32(order.Uint16(b)) }},
		"i4": {4, func(b []byte) float32 { return float32(int32(order.Uint32(b))) }},
		"u4": {4, func(b []byte) float32 { return float32(order.Uint32(b)) }},
		"i8": {8, func(b []byte) float32 { return float32(int64(order.Uint64(b))) }},
		"u8": {8, func(b []byte) float32 { return float32(order.Uint64(b)) }},
	}
	d, ok := decoders[descr[1:]]
	if !ok || descr[0] == '|' && d.size != 1 {
		return 0, nil, bad
	}
	return d.size, d.f, nil
}

// parsePyDict parses the Python dictionary literal of a .npy header: string
// keys, values that are strings, True/False, or tuples of non-negative
// integers (with Python 2's optional L suffix). Anything else is an error.
func parsePyDict(s string) (map[string]any, error) {
	p := &pyParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, p.errorf("want '{'")
	}
	out := map[string]any{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, p.errorf("key %q twice", k)
		}
		p.space()
		if !p.eat(':') {
			return nil, p.errorf("want ':' after %q", k)
		}
		p.space()
		if out[k], err = p.value(); err != nil {
			return nil, err
		}
		p.space()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return nil, p.errorf("want ',' or '}'")
		}
	}
	if strings.TrimRight(s[p.i:], " \t\r\n\x00") != "" {
		return nil, p.errorf("unexpected text after the dictionary")
	}
	return out, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes (NumPy's keys and descrs have
// none).
func (p *pyParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.errorf("want a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsAny(v, "\\\n") {
		return "", p.errorf("escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

func (p *pyParser) value() (any, error) {
	switch {
	case p.i >= len(p.s):
		return nil, p.errorf("want a value")
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	case p.s[p.i] == '(':
		return p.tuple()
	}
	return nil, p.errorf("unsupported value (want a string, True, False or a tuple of integers)")
}

// tuple reads "()", "(3,)" or "(3, 4)" (a trailing comma allowed).
func (p *pyParser) tuple() ([]int, error) {
	p.eat('(')
	dims := []int{}
	for {
		p.space()
		if p.eat(')') {
			return dims, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		d, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return nil, p.errorf("want a non-negative integer dimension that fits 63 bits")
		}
		p.eat('L')
		if dims = append(dims, int(d)); len(dims) > npyMaxRank {
			return nil, p.errorf("more than %d dimensions", npyMaxRank)
		}
		p.space()
		if p.eat(')') {
			if len(dims) == 1 {
				// "(3)" is the integer 3 in Python, not a tuple; NumPy writes "(3,)".
				return nil, p.errorf("shape (%d) is not a tuple; NumPy writes (%d,)", d, d)
			}
			return dims, nil
		}
		if !p.eat(',') {
			return nil, p.errorf("want ',' or ')' in the shape")
		}
	}
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
