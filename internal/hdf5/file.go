// Package hdf5 reads the subset of HDF5 that h5py writes by default, which is
// everything Keras writes: a version-0 superblock, version-1 object headers,
// old-style groups (v1 B-trees, symbol-table nodes and local heaps),
// attributes stored in object headers (fixed-length and variable-length
// strings, numbers) and contiguous, compact or chunked datasets (gzip,
// shuffle and fletcher32 filters).
//
// Every offset and length read from the file is checked against the file
// size before use, allocations are capped, and B-tree and continuation walks
// refuse cycles, so a corrupt or hostile file yields an error, never a panic.
// A File is immutable after Open and safe for concurrent readers.
package hdf5

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dqnn/dqnn/internal/safeio"
)

// signature opens every HDF5 superblock.
var signature = []byte("\x89HDF\r\n\x1a\n")

// undefined is the "no address" value for 8-byte offsets; shorter offsets
// are widened with all ones so the same constant works for them too.
const undefined = ^uint64(0)

// File is an open HDF5 file held in memory.
type File struct {
	name     string
	data     []byte
	base     uint64 // absolute position that file addresses are relative to
	offSize  int    // size of addresses in bytes
	lenSize  int    // size of lengths in bytes
	limit    uint64 // cap on the bytes of one dataset: the larger of the file size and the unpacked budget
	checkEOF bool   // compare the file size with the superblock's end address
	root     *Group
	// unpacked counts the bytes that reading datasets produces beyond the
	// file's own bytes (decompressed chunks, fill values), so a small file
	// cannot declare or inflate to gigabytes; nil (hand-built test files)
	// leaves only limit.
	unpacked *safeio.Budget
}

// Open reads the file at path into memory, within the default limits, and
// parses its root group. Errors start with path.
func Open(path string) (*File, error) { return OpenLimits(path, safeio.Limits{}) }

// OpenLimits is Open within the given limits (zero fields: defaults): the
// file size is capped by l.File, the data its datasets decompress or fill
// by l.Unpacked.
func OpenLimits(path string, l safeio.Limits) (*File, error) {
	l = l.OrDefault()
	data, err := safeio.ReadFile(path, l.File, safeio.FlagFile)
	if err != nil {
		return nil, err
	}
	return OpenBytesLimits(path, data, l)
}

// OpenBytes parses an HDF5 file held in data, within the default limits;
// name is used in error messages. data must not be modified while the File
// is in use.
func OpenBytes(name string, data []byte) (*File, error) {
	return OpenBytesLimits(name, data, safeio.Limits{})
}

// OpenBytesLimits is OpenBytes with the data its datasets decompress or
// fill capped by l.Unpacked (zero: the default).
func OpenBytesLimits(name string, data []byte, l safeio.Limits) (*File, error) {
	return openBytes(name, data, true, l.OrDefault().Unpacked)
}

// openBytes is OpenBytes with the end-of-file check optional, so tests can
// drive the parsers over truncated data.
func openBytes(name string, data []byte, checkEOF bool, unpacked int64) (*File, error) {
	f := &File{name: name, data: data, checkEOF: checkEOF}
	f.limit = uint64(max(int64(len(data)), unpacked))
	f.unpacked = safeio.NewBudget(unpacked, name, "the data decompressed or filled in by its datasets", safeio.FlagUnpacked)
	rootAddr, err := f.readSuperblock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	root, err := f.openGroup("/", rootAddr)
	if err != nil {
		return nil, err
	}
	f.root = root
	return f, nil
}

// Name returns the name given to Open or OpenBytes.
func (f *File) Name() string { return f.name }

// Root returns the root group "/".
func (f *File) Root() *Group { return f.root }

// readSuperblock finds and parses the superblock and returns the address of
// the root group's object header.
func (f *File) readSuperblock() (uint64, error) {
	// The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ...
	pos := -1
	for p := 0; p+len(signature) <= len(f.data); p = nextSuperblockPos(p) {
		if bytes.Equal(f.data[p:p+len(signature)], signature) {
			pos = p
			break
		}
	}
	if pos < 0 {
		return 0, errors.New("not an HDF5 file (no superblock signature found)")
	}
	r := &reader{b: f.data[pos:]}
	r.skip(len(signature))
	version := r.u8()
	if r.err != nil {
		return 0, errTruncated("superblock")
	}
	// Version 1 only differs by a chunk B-tree K field, but no h5py setting
	// writes it, so it is refused like the newer formats rather than untested.
	if version != 0 {
		return 0, fmt.Errorf("HDF5 superblock version %d (newer file format) is not supported; "+
			"re-save with h5py defaults (libver='earliest')", version)
	}
	r.skip(4) // free-space, root symbol entry and shared-header versions, reserved
	f.offSize = int(r.u8())
	f.lenSize = int(r.u8())
	r.skip(1)
	if r.err != nil {
		return 0, errTruncated("superblock")
	}
	if !validSize(f.offSize) || !validSize(f.lenSize) {
		return 0, fmt.Errorf("superblock: unsupported address/length sizes %d/%d", f.offSize, f.lenSize)
	}
	r.offSize, r.lenSize = f.offSize, f.lenSize
	r.skip(4) // group leaf and internal node K
	r.skip(4) // file consistency flags
	f.base = r.addr()
	r.addr() // free-space info
	eof := r.addr()
	r.addr() // driver information block
	ent := f.readSymbolEntry(r)
	if r.err != nil {
		return 0, errTruncated("superblock")
	}
	if f.base == undefined || f.base > uint64(len(f.data)) {
		return 0, fmt.Errorf("superblock: base address %#x outside the file", f.base)
	}
	// A short file is the common corruption (interrupted copy or download).
	// h5py files with a user block store the absolute end here, so compare
	// with the whole file.
	if f.checkEOF && (eof == undefined || eof > uint64(len(f.data))) {
		return 0, fmt.Errorf("file is truncated: the superblock records %d bytes, the file has %d",
			eof, len(f.data))
	}
	return ent.header, nil
}

func nextSuperblockPos(p int) int {
	if p == 0 {
		return 512
	}
	return p * 2
}

func validSize(n int) bool { return n == 2 || n == 4 || n == 8 }

// at returns n bytes at file address addr (relative to the base address),
// or an error when they are not all inside the file.
func (f *File) at(addr, n uint64) ([]byte, error) {
	if addr == undefined {
		return nil, errors.New("undefined address")
	}
	size := uint64(len(f.data))
	if addr > size || f.base > size-addr {
		return nil, fmt.Errorf("address %#x is outside the file (%d bytes)", addr, size)
	}
	start := f.base + addr
	if n > size-start {
		return nil, fmt.Errorf("%d bytes at address %#x run past the end of the file (%d bytes)", n, addr, size)
	}
	return f.data[start : start+n : start+n], nil
}

// rest returns everything from addr to the end of the file.
func (f *File) rest(addr uint64) ([]byte, error) {
	if addr == undefined || addr > uint64(len(f.data)) || f.base > uint64(len(f.data))-addr {
		return nil, fmt.Errorf("address %#x is outside the file (%d bytes)", addr, len(f.data))
	}
	return f.data[f.base+addr:], nil
}

// errorf formats an error that names the file and the object path.
func (f *File) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", f.name, path, fmt.Errorf(format, args...))
}

func errTruncated(what string) error { return fmt.Errorf("%s is truncated", what) }

// reader is a little-endian cursor over a byte slice. The first read past
// the end sets err; later reads return zero, so parsers check err once.
type reader struct {
	b       []byte
	off     int
	err     error
	offSize int
	lenSize int
}

func (f *File) newReader(b []byte) *reader {
	return &reader{b: b, offSize: f.offSize, lenSize: f.lenSize}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = errors.New("unexpected end of data")
		r.off = len(r.b)
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) uint(n int) uint64 {
	p := r.bytes(n)
	var v uint64
	for i := len(p) - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

func (r *reader) u8() uint8   { return uint8(r.uint(1)) }
func (r *reader) u16() uint16 { return uint16(r.uint(2)) }
func (r *reader) u32() uint32 { return uint32(r.uint(4)) }

// addr reads a file address; all-ones (undefined) is widened to undefined.
func (r *reader) addr() uint64 {
	v := r.uint(r.offSize)
	if r.offSize < 8 && v == 1<<(8*r.offSize)-1 {
		return undefined
	}
	return v
}

func (r *reader) length() uint64 { return r.uint(r.lenSize) }

func (r *reader) left() int { return len(r.b) - r.off }

// align skips to the next multiple of n relative to the start of the data.
func (r *reader) align(n int) {
	if pad := (n - r.off%n) % n; pad > 0 && r.left() >= pad {
		r.off += pad
	} else if pad > 0 {
		r.off = len(r.b)
	}
}

// mulCheck multiplies sizes and reports overflow beyond limit.
func mulCheck(limit uint64, vals ...uint64) (uint64, bool) {
	p := uint64(1)
	for _, v := range vals {
		if v != 0 && p > limit/v {
			return 0, false
		}
		p *= v
	}
	return p, p <= limit
}
