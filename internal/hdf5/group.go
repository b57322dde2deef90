package hdf5

import (
	"fmt"
	"path"
	"sort"
)

// Symbol-table entry cache types.
const (
	cacheGroup    = 1 // scratch pad holds the group's B-tree and heap addresses
	cacheSoftLink = 2 // scratch pad holds the link value's heap offset
)

// maxSoftLinkDepth bounds soft-link resolution so link loops end.
const maxSoftLinkDepth = 16

// Group is an HDF5 group: its member names and attributes are read when
// the group is opened, members themselves when asked for.
type Group struct {
	f       *File
	path    string
	names   []string               // sorted
	members map[string]symbolEntry // by name
	heap    []byte                 // local heap, for soft-link values
	attrs   []*Attr
}

// openGroup parses the group whose object header is at addr.
func (f *File) openGroup(p string, addr uint64) (*Group, error) {
	h, err := f.readObjectHeader(addr)
	if err != nil {
		return nil, f.errorf(p, "%w", err)
	}
	return f.groupFromHeader(p, h)
}

func (f *File) groupFromHeader(p string, h *objectHeader) (*Group, error) {
	m, ok := h.find(msgSymbolTable)
	if !ok {
		if _, isDataset := h.find(msgLayout); isDataset {
			return nil, f.errorf(p, "is a dataset, not a group")
		}
		if _, ok := h.find(msgLinkInfo); ok {
			return nil, f.errorf(p, "new-style group (newer file format, written with libver='latest' "+
				"or track_order=True) is not supported; re-save with h5py defaults (libver='earliest', track_order=False)")
		}
		return nil, f.errorf(p, "is not a group (no symbol table message)")
	}
	r := f.newReader(m.data)
	btree, heapAddr := r.addr(), r.addr()
	if r.err != nil {
		return nil, f.errorf(p, "symbol table message is truncated")
	}
	names, entries, err := f.groupEntries(btree, heapAddr)
	if err != nil {
		return nil, f.errorf(p, "%w", err)
	}
	g := &Group{f: f, path: p, members: make(map[string]symbolEntry, len(names))}
	for i, n := range names {
		if _, dup := g.members[n]; dup {
			return nil, f.errorf(p, "member %q appears twice", n)
		}
		g.members[n] = entries[i]
	}
	g.names = names
	sort.Strings(g.names)
	if g.heap, err = f.localHeap(heapAddr); err != nil {
		return nil, f.errorf(p, "%w", err)
	}
	if g.attrs, err = f.readAttrs(h, p); err != nil {
		return nil, err
	}
	return g, nil
}

// Path returns the group's absolute path: "/" or "/model_weights/dense".
func (g *Group) Path() string { return g.path }

// Members returns the names of the group's members in name order.
func (g *Group) Members() []string { return append([]string(nil), g.names...) }

// Attrs returns the group's attribute names in header order.
func (g *Group) Attrs() []string { return attrNames(g.attrs) }

// Attr returns the attribute called name.
func (g *Group) Attr(name string) (*Attr, bool) { return findAttr(g.attrs, name) }

// Has reports whether g has a direct member called name (without reading it).
func (g *Group) Has(name string) bool {
	_, ok := g.members[name]
	return ok
}

// IsGroup reports whether the member called name exists and is a group. It
// is false for members that cannot be read; Group returns their error.
func (g *Group) IsGroup(name string) bool {
	h, _, err := g.resolve(name)
	if err != nil {
		return false
	}
	_, ok := h.find(msgSymbolTable)
	return ok
}

// Group opens the group at a path relative to g (it may contain '/'; a
// leading '/' starts at the root).
func (g *Group) Group(p string) (*Group, error) {
	if len(splitPath(p)) == 0 && p != "" {
		if p[0] == '/' {
			return g.f.root, nil // "/"
		}
		return g, nil // "."
	}
	h, full, err := g.resolve(p)
	if err != nil {
		return nil, err
	}
	return g.f.groupFromHeader(full, h)
}

// Dataset opens the dataset at a path relative to g (it may contain '/'; a
// leading '/' starts at the root).
func (g *Group) Dataset(p string) (*Dataset, error) {
	h, full, err := g.resolve(p)
	if err != nil {
		return nil, err
	}
	return g.f.datasetFromHeader(full, h)
}

// resolve walks a relative path and returns the target's object header and
// absolute path.
func (g *Group) resolve(p string) (*objectHeader, string, error) {
	return g.resolveDepth(p, 0)
}

func (g *Group) resolveDepth(p string, depth int) (*objectHeader, string, error) {
	cur := g
	if len(p) > 0 && p[0] == '/' {
		cur = g.f.root
	}
	segs := splitPath(p)
	if len(segs) == 0 {
		return nil, "", g.f.errorf(g.path, "empty path %q", p)
	}
	for i := 0; ; i++ {
		h, full, err := cur.member(segs[i], depth)
		if err != nil || i == len(segs)-1 {
			return h, full, err
		}
		if cur, err = g.f.groupFromHeader(full, h); err != nil {
			return nil, "", err
		}
	}
}

// member reads the object header of the direct member called name.
func (g *Group) member(name string, depth int) (*objectHeader, string, error) {
	e, ok := g.members[name]
	if !ok {
		return nil, "", g.f.errorf(g.path, "no member %q", name)
	}
	full := path.Join(g.path, name)
	if e.cacheType == cacheSoftLink {
		return g.followSoftLink(e, full, depth)
	}
	h, err := g.f.readObjectHeader(e.header)
	if err != nil {
		return nil, "", g.f.errorf(full, "%w", err)
	}
	return h, full, nil
}

// followSoftLink resolves a soft link stored in an old-style group.
func (g *Group) followSoftLink(e symbolEntry, full string, depth int) (*objectHeader, string, error) {
	if depth >= maxSoftLinkDepth {
		return nil, "", g.f.errorf(full, "soft links nested more than %d deep (loop?)", maxSoftLinkDepth)
	}
	off := g.f.newReader(e.scratch).uint(4)
	target, err := heapString(g.heap, off)
	if err != nil {
		return nil, "", g.f.errorf(full, "soft link: %w", err)
	}
	h, p, err := g.resolveDepth(target, depth+1)
	if err != nil {
		return nil, "", fmt.Errorf("soft link %s -> %q: %w", full, target, err)
	}
	return h, p, nil
}
