package hdf5

import (
	"bytes"
	"fmt"

	"github.com/dqnn/dqnn/internal/safeio"
)

// Data layout classes.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// Dataset is an HDF5 dataset. Its metadata is parsed when opened; the data
// is read, decompressed and converted by Float32s and Float64s.
type Dataset struct {
	f       *File
	path    string
	dt      *datatype
	space   dataspace
	layout  int
	addr    uint64 // contiguous data or chunk B-tree
	size    uint64 // contiguous: stored size
	compact []byte
	chunk   []uint64 // chunk dimensions in elements (rank entries)
	chunkEl uint64   // element size recorded in the chunked layout
	filters []filter
	fill    []byte // one element; nil means zeros
	attrs   []*Attr
}

func (f *File) datasetFromHeader(p string, h *objectHeader) (*Dataset, error) {
	d := &Dataset{f: f, path: p}
	if _, isGroup := h.find(msgSymbolTable); isGroup {
		return nil, f.errorf(p, "is a group, not a dataset")
	}
	for _, typ := range []uint16{msgDatatype, msgDataspace, msgLayout, msgFilters, msgFill, msgFillOld} {
		m, ok := h.find(typ)
		if !ok {
			if typ == msgDatatype || typ == msgDataspace || typ == msgLayout {
				return nil, f.errorf(p, "is not a dataset (no message %#x)", typ)
			}
			continue
		}
		if m.flags&2 != 0 {
			return nil, f.errorf(p, "shared header message %#x (committed datatype?) is not supported", typ)
		}
		var err error
		switch typ {
		case msgDatatype:
			d.dt, err = parseDatatype(m.data, 0)
		case msgDataspace:
			d.space, err = parseDataspace(m.data, f.lenSize, f.limit)
		case msgLayout:
			err = d.parseLayout(m.data)
		case msgFilters:
			d.filters, err = parseFilters(m.data)
		case msgFill, msgFillOld:
			if d.fill == nil {
				err = d.parseFill(m.data, typ == msgFillOld)
			}
		}
		if err != nil {
			return nil, f.errorf(p, "%w", err)
		}
	}
	var err error
	if d.attrs, err = f.readAttrs(h, p); err != nil {
		return nil, err
	}
	return d, nil
}

// parseLayout decodes a data layout message (versions 1-3).
func (d *Dataset) parseLayout(b []byte) error {
	r := d.f.newReader(b)
	version := r.u8()
	var rank int
	switch version {
	case 1, 2:
		rank = int(r.u8())
		d.layout = int(r.u8())
		r.skip(5)
		if d.layout != layoutCompact {
			d.addr = r.addr()
		}
		dims := make([]uint64, 0, 8)
		for i := 0; i < rank && r.err == nil; i++ {
			dims = append(dims, uint64(r.u32()))
		}
		if d.layout == layoutCompact {
			d.compact = r.bytes(int(r.u32()))
		}
		if d.layout == layoutChunked {
			d.chunk = dims
		}
	case 3:
		d.layout = int(r.u8())
		switch d.layout {
		case layoutCompact:
			d.compact = r.bytes(int(r.u16()))
		case layoutContiguous:
			d.addr = r.addr()
			d.size = r.length()
		case layoutChunked:
			rank = int(r.u8())
			d.addr = r.addr()
			for i := 0; i < rank && r.err == nil; i++ {
				d.chunk = append(d.chunk, uint64(r.u32()))
			}
		}
	default:
		if r.err == nil {
			return fmt.Errorf("data layout version %d (newer file format) is not supported; "+
				"re-save with h5py defaults (libver='earliest')", version)
		}
	}
	if r.err != nil {
		return errTruncated("data layout message")
	}
	if d.layout > layoutChunked {
		return fmt.Errorf("data layout class %d is not supported", d.layout)
	}
	if d.layout == layoutChunked {
		// The last chunk dimension is the element size in bytes.
		if len(d.chunk) < 2 || len(d.chunk) > maxRank+1 {
			return fmt.Errorf("chunked layout with %d dimensions is invalid", len(d.chunk))
		}
		for _, c := range d.chunk {
			if c == 0 {
				return fmt.Errorf("chunk dimensions %v contain zero", d.chunk)
			}
		}
		d.chunk, d.chunkEl = d.chunk[:len(d.chunk)-1], d.chunk[len(d.chunk)-1]
	}
	return nil
}

// parseFill decodes a fill value message (old type 4, or type 5 versions 1-3).
func (d *Dataset) parseFill(b []byte, old bool) error {
	r := d.f.newReader(b)
	present := true
	if !old {
		switch version := r.u8(); version {
		case 1, 2:
			r.skip(2) // allocation and write times
			defined := r.u8()
			present = version == 1 || defined != 0
		case 3:
			flags := r.u8()
			present = flags&0x20 != 0
		default:
			if r.err == nil {
				return fmt.Errorf("fill value message version %d is not supported", version)
			}
		}
	}
	if !present {
		return nil
	}
	size := r.u32()
	val := r.bytes(int(size))
	if r.err != nil {
		return nil // h5py omits the value when it is the default
	}
	if size != 0 {
		d.fill = bytes.Clone(val)
	}
	return nil
}

// Path returns the dataset's absolute path.
func (d *Dataset) Path() string { return d.path }

// Shape returns the dataset's dimensions: empty for a scalar.
func (d *Dataset) Shape() []int { return intDims(d.space.dims) }

// DType describes the stored element type: "float32", "float16", "int8",
// "uint16", ... (Float32s and Float64s convert from any of them).
func (d *Dataset) DType() string { return d.dt.String() }

// Len returns the number of elements.
func (d *Dataset) Len() int { return int(d.space.nelem) }

// Attrs returns the dataset's attribute names in header order.
func (d *Dataset) Attrs() []string { return attrNames(d.attrs) }

// Attr returns the attribute called name.
func (d *Dataset) Attr(name string) (*Attr, bool) { return findAttr(d.attrs, name) }

// Float32s reads the whole dataset in row-major order converted to float32.
func (d *Dataset) Float32s() ([]float32, error) {
	raw, err := d.raw()
	if err != nil {
		return nil, err
	}
	v, err := d.dt.float32s(raw, int(d.space.nelem))
	if err != nil {
		return nil, d.f.errorf(d.path, "%w", err)
	}
	return v, nil
}

// Float64s reads the whole dataset in row-major order converted to float64.
func (d *Dataset) Float64s() ([]float64, error) {
	raw, err := d.raw()
	if err != nil {
		return nil, err
	}
	v, err := d.dt.float64s(raw, int(d.space.nelem))
	if err != nil {
		return nil, d.f.errorf(d.path, "%w", err)
	}
	return v, nil
}

// raw returns the dataset's elements packed in row-major order, as stored.
func (d *Dataset) raw() ([]byte, error) {
	if !d.dt.isNumeric() {
		return nil, d.f.errorf(d.path, "is %s, not numeric", d.dt)
	}
	if d.fill != nil && len(d.fill) != d.dt.size {
		return nil, d.f.errorf(d.path, "fill value has %d bytes, element has %d", len(d.fill), d.dt.size)
	}
	total, ok := mulCheck(d.f.limit, d.space.nelem, uint64(d.dt.size))
	if !ok {
		return nil, d.f.errorf(d.path, "dataset of %d %s elements exceeds the %d-byte read limit (the larger of the file size and the unpacked-data limit, %s)",
			d.space.nelem, d.dt, d.f.limit, safeio.FlagUnpacked)
	}
	switch d.layout {
	case layoutCompact:
		if uint64(len(d.compact)) < total {
			return nil, d.f.errorf(d.path, "compact data has %d bytes, want %d", len(d.compact), total)
		}
		return d.compact[:total], nil // read-only: callers convert into new slices
	case layoutContiguous:
		if d.addr == undefined {
			if err := d.takeUnpacked(total); err != nil {
				return nil, err
			}
			return d.filled(total), nil
		}
		if d.size != 0 && d.size < total {
			return nil, d.f.errorf(d.path, "contiguous storage has %d bytes, want %d", d.size, total)
		}
		b, err := d.f.at(d.addr, total)
		if err != nil {
			return nil, d.f.errorf(d.path, "data: %w", err)
		}
		return b, nil // read-only: callers convert into new slices
	}
	if err := d.takeUnpacked(total); err != nil {
		return nil, err
	}
	return d.readChunked(total)
}

// takeUnpacked draws n bytes that the dataset materialises beyond the
// file's own bytes from the file's budget, before they are allocated.
func (d *Dataset) takeUnpacked(n uint64) error {
	if d.f.unpacked == nil {
		return nil
	}
	if err := d.f.unpacked.Take(int64(n)); err != nil {
		return fmt.Errorf("%w (reading dataset %s)", err, d.path)
	}
	return nil
}

// filled returns total bytes of fill value.
func (d *Dataset) filled(total uint64) []byte {
	out := make([]byte, total)
	if d.fill != nil && !allZero(d.fill) {
		for i := 0; i < len(out); i += len(d.fill) {
			copy(out[i:], d.fill)
		}
	}
	return out
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readChunked assembles a chunked dataset; chunks never written hold the
// fill value.
func (d *Dataset) readChunked(total uint64) ([]byte, error) {
	rank := len(d.space.dims)
	if rank == 0 || len(d.chunk) != rank {
		return nil, d.f.errorf(d.path, "chunk rank %d does not match dataset rank %d", len(d.chunk), rank)
	}
	if d.chunkEl != uint64(d.dt.size) {
		return nil, d.f.errorf(d.path, "chunk element size %d does not match the %d-byte datatype", d.chunkEl, d.dt.size)
	}
	out := d.filled(total)
	if d.addr == undefined || total == 0 {
		return out, nil
	}
	esize := uint64(d.dt.size)
	chunkBytes, ok := mulCheck(d.f.limit, append([]uint64{esize}, d.chunk...)...)
	if !ok {
		return nil, d.f.errorf(d.path, "chunk %v exceeds the read limit", d.chunk)
	}
	refs, err := d.f.chunks(d.addr, rank)
	if err != nil {
		return nil, d.f.errorf(d.path, "chunk index: %w", err)
	}
	seen := make(map[string]bool, len(refs))
	var z inflater
	for _, c := range refs {
		key := fmt.Sprint(c.offset)
		if seen[key] {
			return nil, d.f.errorf(d.path, "chunk at %v is stored twice", c.offset)
		}
		seen[key] = true
		for i, o := range c.offset {
			if o >= d.space.dims[i] || o%d.chunk[i] != 0 {
				return nil, d.f.errorf(d.path, "chunk offset %v is not a chunk origin inside %v", c.offset, d.space.dims)
			}
		}
		stored, err := d.f.at(c.addr, c.size)
		if err != nil {
			return nil, d.f.errorf(d.path, "chunk at %v: %w", c.offset, err)
		}
		data, err := applyFilters(&z, d.filters, c.mask, stored, chunkBytes, d.dt.size)
		if err != nil {
			return nil, d.f.errorf(d.path, "chunk at %v: %w", c.offset, err)
		}
		if uint64(len(data)) != chunkBytes {
			return nil, d.f.errorf(d.path, "chunk at %v has %d bytes, want %d", c.offset, len(data), chunkBytes)
		}
		d.copyChunk(out, data, c.offset)
	}
	return out, nil
}

// copyChunk copies the part of a full chunk that lies inside the dataset
// (edge chunks overhang) into out, one contiguous run per innermost row.
func (d *Dataset) copyChunk(out, chunk []byte, origin []uint64) {
	rank := len(d.space.dims)
	esize := uint64(d.dt.size)
	dims, cdims := d.space.dims, d.chunk
	rowLen := min(cdims[rank-1], dims[rank-1]-origin[rank-1]) * esize
	idx := make([]uint64, rank) // position inside the chunk, last axis unused
	for {
		// Element offsets in the dataset and the chunk.
		var so, co uint64
		for i := 0; i < rank; i++ {
			so = so*dims[i] + origin[i] + idx[i]
			co = co*cdims[i] + idx[i]
		}
		copy(out[so*esize:so*esize+rowLen], chunk[co*esize:co*esize+rowLen])
		// Advance the outer axes, skipping rows beyond the dataset edge.
		i := rank - 2
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < cdims[i] && origin[i]+idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}
