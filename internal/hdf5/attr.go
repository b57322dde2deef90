package hdf5

import (
	"bytes"
	"fmt"
	"strings"
)

// Attr is an attribute of a group or dataset. Its raw value is copied out of
// the object header at Open; variable-length strings are resolved through
// the global heap when read.
type Attr struct {
	f     *File
	owner string // path of the object holding the attribute
	name  string
	dt    *datatype
	space dataspace
	raw   []byte // nelem * dt.size bytes
}

// parseAttr decodes an attribute message (versions 1-3).
func (f *File) parseAttr(m message, path string) (*Attr, error) {
	r := f.newReader(m.data)
	version := r.u8()
	flags := r.u8()
	nameSize := int(r.u16())
	typeSize := int(r.u16())
	spaceSize := int(r.u16())
	if version == 3 {
		r.skip(1) // name character set: names are used as bytes either way
	}
	if r.err != nil {
		return nil, f.errorf(path, "attribute message is truncated")
	}
	if version < 1 || version > 3 {
		return nil, f.errorf(path, "attribute message version %d is not supported", version)
	}
	if version > 1 && flags&3 != 0 {
		return nil, f.errorf(path, "attribute with a shared datatype or dataspace is not supported")
	}
	field := func(n int) []byte {
		b := r.bytes(n)
		if version == 1 {
			r.align(8)
		}
		return b
	}
	nameB, typeB, spaceB := field(nameSize), field(typeSize), field(spaceSize)
	if r.err != nil {
		return nil, f.errorf(path, "attribute message is truncated")
	}
	if i := bytes.IndexByte(nameB, 0); i >= 0 {
		nameB = nameB[:i]
	}
	a := &Attr{f: f, owner: path, name: string(nameB)}
	where := path + " attribute " + fmt.Sprintf("%q", a.name)
	var err error
	if a.dt, err = parseDatatype(typeB, 0); err != nil {
		return nil, f.errorf(where, "%w", err)
	}
	if a.space, err = parseDataspace(spaceB, f.lenSize, uint64(len(m.data))); err != nil {
		return nil, f.errorf(where, "%w", err)
	}
	n := a.space.nelem * uint64(a.dt.size)
	if n > uint64(r.left()) {
		return nil, f.errorf(where, "value needs %d bytes but the message holds %d", n, r.left())
	}
	a.raw = bytes.Clone(r.bytes(int(n)))
	return a, nil
}

// Name returns the attribute's name.
func (a *Attr) Name() string { return a.name }

// Shape returns the attribute's dimensions: empty for a scalar.
func (a *Attr) Shape() []int { return intDims(a.space.dims) }

// Len returns the number of elements (1 for a scalar).
func (a *Attr) Len() int { return int(a.space.nelem) }

// IsString reports whether the attribute holds fixed- or variable-length strings.
func (a *Attr) IsString() bool { return a.dt.isString() }

func (a *Attr) errorf(format string, args ...any) error {
	return a.f.errorf(fmt.Sprintf("%s attribute %q", a.owner, a.name), format, args...)
}

// Strings returns the attribute's strings in row-major order (a scalar gives
// one element). Fixed-length strings are cut at the first NUL (and trailing
// spaces for space-padded ones); bytes are returned as stored (UTF-8).
func (a *Attr) Strings() ([]string, error) {
	n := int(a.space.nelem)
	out := make([]string, 0, n)
	switch {
	case a.dt.class == classString:
		for i := range n {
			s := a.raw[i*a.dt.size : (i+1)*a.dt.size]
			if j := bytes.IndexByte(s, 0); j >= 0 {
				s = s[:j]
			}
			if a.dt.strPad == 2 {
				s = bytes.TrimRight(s, " ")
			}
			out = append(out, string(s))
		}
	case a.dt.class == classVlen && a.dt.vlenStr:
		heaps := map[uint64]globalHeap{}
		for i := range n {
			r := a.f.newReader(a.raw[i*a.dt.size : (i+1)*a.dt.size])
			length := uint64(r.u32())
			addr := r.addr()
			idx := r.u32()
			if r.err != nil {
				return nil, a.errorf("variable-length element %d is truncated", i)
			}
			if length == 0 {
				out = append(out, "")
				continue
			}
			heap, ok := heaps[addr]
			if !ok {
				var err error
				if heap, err = a.f.readGlobalHeap(addr); err != nil {
					return nil, a.errorf("element %d: %w", i, err)
				}
				heaps[addr] = heap
			}
			obj, ok := heap[uint16(idx)]
			if !ok || idx > 0xffff {
				return nil, a.errorf("element %d: global heap object %d not found", i, idx)
			}
			if length*uint64(a.dt.base.size) > uint64(len(obj)) {
				return nil, a.errorf("element %d: length %d exceeds its heap object (%d bytes)", i, length, len(obj))
			}
			out = append(out, string(obj[:length*uint64(a.dt.base.size)]))
		}
	default:
		return nil, a.errorf("is %s, not a string", a.dt)
	}
	return out, nil
}

// String returns a scalar or one-element string attribute.
func (a *Attr) String() (string, error) {
	ss, err := a.Strings()
	if err != nil {
		return "", err
	}
	if len(ss) != 1 {
		return "", a.errorf("holds %d strings, want 1", len(ss))
	}
	return ss[0], nil
}

// Float64s returns a numeric attribute converted to float64.
func (a *Attr) Float64s() ([]float64, error) {
	v, err := a.dt.float64s(a.raw, int(a.space.nelem))
	if err != nil {
		return nil, a.errorf("%w", err)
	}
	return v, nil
}

// Int64s returns an integer attribute (or a float one holding integers) as int64.
func (a *Attr) Int64s() ([]int64, error) {
	v, err := a.dt.int64s(a.raw, int(a.space.nelem))
	if err != nil {
		return nil, a.errorf("%w", err)
	}
	return v, nil
}

// findAttr returns the attribute called name.
func findAttr(attrs []*Attr, name string) (*Attr, bool) {
	for _, a := range attrs {
		if a.name == name {
			return a, true
		}
	}
	return nil, false
}

func attrNames(attrs []*Attr) []string {
	names := make([]string, len(attrs))
	for i, a := range attrs {
		names[i] = a.name
	}
	return names
}

func intDims(dims []uint64) []int {
	if dims == nil {
		return nil
	}
	out := make([]int, len(dims))
	for i, d := range dims {
		out[i] = int(d)
	}
	return out
}

// splitPath splits a slash-separated path into its non-empty segments.
func splitPath(p string) []string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	return segs
}
