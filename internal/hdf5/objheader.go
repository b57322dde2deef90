package hdf5

import (
	"bytes"
	"errors"
	"fmt"
)

// Object header message types used by the reader.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgLayout       = 0x08
	msgFilters      = 0x0B
	msgAttribute    = 0x0C
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// Limits that keep hostile headers from looping or exhausting memory.
const (
	maxHeaderChunks   = 4096
	maxHeaderMessages = 1 << 16
)

// message is one object header message; data aliases the file.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
}

// objectHeader is a parsed version-1 object header with its continuations.
type objectHeader struct {
	msgs   []message
	chunks int // number of header chunks (1 + continuation blocks)
}

// find returns the first message of type typ.
func (h *objectHeader) find(typ uint16) (message, bool) {
	for _, m := range h.msgs {
		if m.typ == typ {
			return m, true
		}
	}
	return message{}, false
}

// readObjectHeader parses the version-1 object header at addr, following
// continuation blocks. Each block is visited at most once.
func (f *File) readObjectHeader(addr uint64) (*objectHeader, error) {
	pre, err := f.at(addr, 16)
	if err != nil {
		return nil, fmt.Errorf("object header: %w", err)
	}
	if bytes.Equal(pre[:4], []byte("OHDR")) {
		return nil, errors.New("version-2 object header (newer file format, written with libver='latest' " +
			"or track_order=True) is not supported; re-save with h5py defaults (libver='earliest', track_order=False)")
	}
	if pre[0] != 1 {
		return nil, fmt.Errorf("object header at %#x: unknown version %d", addr, pre[0])
	}
	size := uint64(pre[8]) | uint64(pre[9])<<8 | uint64(pre[10])<<16 | uint64(pre[11])<<24
	h := &objectHeader{}
	type block struct{ addr, size uint64 }
	queue := []block{{addr + 16, size}}
	seen := map[uint64]bool{addr + 16: true}
	for len(queue) > 0 {
		blk := queue[0]
		queue = queue[1:]
		h.chunks++
		if h.chunks > maxHeaderChunks {
			return nil, errors.New("object header has too many continuation blocks")
		}
		data, err := f.at(blk.addr, blk.size)
		if err != nil {
			return nil, fmt.Errorf("object header block: %w", err)
		}
		r := f.newReader(data)
		for r.left() >= 8 {
			typ := r.u16()
			n := int(r.u16())
			flags := r.u8()
			r.skip(3)
			body := r.bytes(n)
			if r.err != nil {
				return nil, fmt.Errorf("object header message %#x: size %d runs past its block", typ, n)
			}
			if len(h.msgs) >= maxHeaderMessages {
				return nil, errors.New("object header has too many messages")
			}
			if typ == msgContinuation {
				cr := f.newReader(body)
				next := block{cr.addr(), cr.length()}
				if cr.err != nil {
					return nil, errTruncated("continuation message")
				}
				if seen[next.addr] {
					return nil, fmt.Errorf("object header continuation at %#x forms a cycle", next.addr)
				}
				seen[next.addr] = true
				queue = append(queue, next)
				continue
			}
			if typ == msgNil {
				continue
			}
			h.msgs = append(h.msgs, message{typ: typ, flags: flags, data: body})
		}
	}
	return h, nil
}

// readAttrs decodes every attribute message of h, in header order.
func (f *File) readAttrs(h *objectHeader, path string) ([]*Attr, error) {
	var attrs []*Attr
	for _, m := range h.msgs {
		switch m.typ {
		case msgAttribute:
			a, err := f.parseAttr(m, path)
			if err != nil {
				return nil, err
			}
			attrs = append(attrs, a)
		case msgAttrInfo:
			r := f.newReader(m.data)
			r.skip(1)
			flags := r.u8()
			if flags&1 != 0 {
				r.skip(2)
			}
			if heap := r.addr(); r.err == nil && heap != undefined {
				return nil, f.errorf(path, "dense attribute storage (newer file format) is not supported; "+
					"re-save with h5py defaults (libver='earliest')")
			}
		}
	}
	return attrs, nil
}
