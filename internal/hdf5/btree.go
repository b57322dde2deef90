package hdf5

import (
	"bytes"
	"errors"
	"fmt"
)

// maxBTreeDepth bounds B-tree recursion; real files have depth 1-3.
const maxBTreeDepth = 32

// symbolEntry is a symbol-table entry: a link name (offset into the
// group's local heap) and the address of the target's object header.
type symbolEntry struct {
	nameOff   uint64
	header    uint64
	cacheType uint32
	scratch   []byte
}

func (f *File) readSymbolEntry(r *reader) symbolEntry {
	var e symbolEntry
	e.nameOff = r.length()
	e.header = r.addr()
	e.cacheType = r.u32()
	r.skip(4)
	e.scratch = r.bytes(16)
	return e
}

// localHeap returns the data segment of the local heap at addr.
func (f *File) localHeap(addr uint64) ([]byte, error) {
	hdr, err := f.at(addr, uint64(8+2*f.lenSize+f.offSize))
	if err != nil {
		return nil, fmt.Errorf("local heap: %w", err)
	}
	if !bytes.Equal(hdr[:4], []byte("HEAP")) {
		return nil, fmt.Errorf("local heap at %#x: bad signature", addr)
	}
	r := f.newReader(hdr[8:])
	size := r.length()
	r.length() // free list head
	dataAddr := r.addr()
	data, err := f.at(dataAddr, size)
	if err != nil {
		return nil, fmt.Errorf("local heap data: %w", err)
	}
	return data, nil
}

// heapString returns the NUL-terminated string at off in a local heap.
func heapString(heap []byte, off uint64) (string, error) {
	if off >= uint64(len(heap)) {
		return "", fmt.Errorf("name offset %d outside the local heap (%d bytes)", off, len(heap))
	}
	s := heap[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		return "", fmt.Errorf("name at heap offset %d is not NUL-terminated", off)
	}
	return string(s[:i]), nil
}

// btreeNode is one parsed v1 B-tree node: keys[i] precedes children[i].
type btreeNode struct {
	level    int
	keys     [][]byte
	children []uint64
}

// readBTreeNode parses the v1 B-tree node at addr whose keys are keySize bytes.
func (f *File) readBTreeNode(addr uint64, nodeType uint8, keySize int) (*btreeNode, error) {
	hdrSize := uint64(8 + 2*f.offSize)
	hdr, err := f.at(addr, hdrSize)
	if err != nil {
		return nil, fmt.Errorf("B-tree node: %w", err)
	}
	if !bytes.Equal(hdr[:4], []byte("TREE")) {
		return nil, fmt.Errorf("B-tree node at %#x: bad signature", addr)
	}
	if hdr[4] != nodeType {
		return nil, fmt.Errorf("B-tree node at %#x: type %d, want %d", addr, hdr[4], nodeType)
	}
	n := uint64(hdr[6]) | uint64(hdr[7])<<8
	body, err := f.at(addr+hdrSize, n*uint64(keySize+f.offSize)+uint64(keySize))
	if err != nil {
		return nil, fmt.Errorf("B-tree node with %d entries: %w", n, err)
	}
	node := &btreeNode{level: int(hdr[5])}
	r := f.newReader(body)
	for i := uint64(0); i < n; i++ {
		node.keys = append(node.keys, r.bytes(keySize))
		node.children = append(node.children, r.addr())
	}
	return node, r.err
}

// walkBTree visits the leaf-level children of the v1 B-tree rooted at addr
// in key order. Each node is visited at most once and levels must descend
// by exactly one, so corrupt trees cannot loop.
func (f *File) walkBTree(addr uint64, nodeType uint8, keySize int, visit func(key []byte, child uint64) error) error {
	seen := map[uint64]bool{}
	var walk func(addr uint64, wantLevel int) error
	walk = func(addr uint64, wantLevel int) error {
		if seen[addr] {
			return fmt.Errorf("B-tree node at %#x is referenced twice (cycle)", addr)
		}
		seen[addr] = true
		node, err := f.readBTreeNode(addr, nodeType, keySize)
		if err != nil {
			return err
		}
		if wantLevel >= 0 && node.level != wantLevel {
			return fmt.Errorf("B-tree node at %#x has level %d, want %d", addr, node.level, wantLevel)
		}
		if node.level > maxBTreeDepth {
			return fmt.Errorf("B-tree node at %#x has level %d (too deep)", addr, node.level)
		}
		for i, c := range node.children {
			if node.level == 0 {
				err = visit(node.keys[i], c)
			} else {
				err = walk(c, node.level-1)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(addr, -1)
}

// groupEntries lists the symbol-table entries of an old-style group given
// its B-tree and local heap addresses.
func (f *File) groupEntries(btree, heapAddr uint64) (names []string, entries []symbolEntry, err error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, nil, err
	}
	entrySize := uint64(2*f.offSize + 24)
	seenNodes := map[uint64]bool{}
	err = f.walkBTree(btree, 0, f.lenSize, func(_ []byte, snod uint64) error {
		if seenNodes[snod] {
			return fmt.Errorf("symbol table node at %#x is referenced twice", snod)
		}
		seenNodes[snod] = true
		hdr, err := f.at(snod, 8)
		if err != nil {
			return fmt.Errorf("symbol table node: %w", err)
		}
		if !bytes.Equal(hdr[:4], []byte("SNOD")) {
			return fmt.Errorf("symbol table node at %#x: bad signature", snod)
		}
		n := uint64(hdr[6]) | uint64(hdr[7])<<8
		body, err := f.at(snod+8, n*entrySize)
		if err != nil {
			return fmt.Errorf("symbol table node with %d entries: %w", n, err)
		}
		r := f.newReader(body)
		for i := uint64(0); i < n; i++ {
			e := f.readSymbolEntry(r)
			name, err := heapString(heap, e.nameOff)
			if err != nil {
				return err
			}
			names = append(names, name)
			entries = append(entries, e)
		}
		return r.err
	})
	return names, entries, err
}

// chunkRef locates one stored chunk of a chunked dataset.
type chunkRef struct {
	offset []uint64 // element offsets of the chunk's first element
	size   uint64   // stored (filtered) size in bytes
	mask   uint32   // filters skipped for this chunk
	addr   uint64
}

// chunks lists the chunks indexed by the v1 chunk B-tree at addr for a
// dataset of the given rank.
func (f *File) chunks(addr uint64, rank int) ([]chunkRef, error) {
	keySize := 8 + 8*(rank+1)
	var refs []chunkRef
	err := f.walkBTree(addr, 1, keySize, func(key []byte, child uint64) error {
		r := f.newReader(key)
		c := chunkRef{size: uint64(r.u32()), mask: r.u32(), addr: child}
		for i := 0; i < rank; i++ {
			c.offset = append(c.offset, r.uint(8))
		}
		refs = append(refs, c)
		return r.err
	})
	return refs, err
}

// globalHeap holds the objects of one global heap collection by index.
type globalHeap map[uint16][]byte

// readGlobalHeap parses the global heap collection at addr.
func (f *File) readGlobalHeap(addr uint64) (globalHeap, error) {
	hdr, err := f.at(addr, uint64(8+f.lenSize))
	if err != nil {
		return nil, fmt.Errorf("global heap: %w", err)
	}
	if !bytes.Equal(hdr[:4], []byte("GCOL")) {
		return nil, fmt.Errorf("global heap at %#x: bad signature", addr)
	}
	size := f.newReader(hdr[8:]).length()
	data, err := f.at(addr, size)
	if err != nil {
		return nil, fmt.Errorf("global heap collection of %d bytes: %w", size, err)
	}
	heap := globalHeap{}
	r := f.newReader(data)
	r.skip(len(hdr))
	for r.left() >= 8+f.lenSize {
		idx := r.u16()
		r.skip(6) // reference count, reserved
		n := r.length()
		if idx == 0 { // free space: the rest of the collection
			break
		}
		if n > uint64(r.left()) {
			return nil, fmt.Errorf("global heap object %d: size %d runs past its collection", idx, n)
		}
		heap[idx] = r.bytes(int(n))
		r.align(8)
	}
	if r.err != nil {
		return nil, errors.New("global heap collection is truncated")
	}
	return heap, nil
}
