// Package safeio reads untrusted input files within stated limits. Every
// reader of model files, weights and input arrays goes through it, so one
// place decides what a file may cost: special files (devices, FIFOs,
// sockets, directories) are refused before they are opened for reading,
// and no file, decompressed stream or configuration may grow past its
// limit. Each limit error names the file, the limit and the command-line
// flag that raises it.
package safeio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Limits bounds what reading one model or input may cost. A zero field
// means its default (Default).
type Limits struct {
	// File caps the size of every file read: the model, its weights, each
	// .npy of inputs.
	File int64
	// Unpacked caps the bytes produced from one file beyond its own bytes:
	// the entries of a .keras zip together, and the HDF5 datasets that are
	// decompressed or filled with a fill value. It is what keeps a small
	// hostile file from declaring or inflating to gigabytes.
	Unpacked int64
	// Config caps the JSON configuration of a model (.json file,
	// model_config attribute, config.json entry): parsing JSON costs a
	// multiple of its size in memory.
	Config int64
}

// The defaults are far above any model a Cortex-M can hold (a few MiB of
// flash) and below what exhausts a build machine: generating C for one
// 128 MiB weight tensor (a 142 KB file of gzip chunks) ran out of memory
// under a 4 GiB limit, so the unpacked default is 32 MiB; an uncompressed
// file's datasets cost the same per byte, so files are capped at 64 MiB.
const (
	DefaultFile     = 64 << 20
	DefaultUnpacked = 32 << 20
	DefaultConfig   = 16 << 20
)

// The flags that raise each limit; cmd/dqnn registers them under these
// names and every limit error cites them.
const (
	FlagFile     = "--max-file-size"
	FlagUnpacked = "--max-unpacked-size"
	FlagConfig   = "--max-config-size"
)

// Default returns the default limits.
func Default() Limits {
	return Limits{File: DefaultFile, Unpacked: DefaultUnpacked, Config: DefaultConfig}
}

// OrDefault returns l with every zero (or negative) field set to its default.
func (l Limits) OrDefault() Limits {
	d := Default()
	if l.File <= 0 {
		l.File = d.File
	}
	if l.Unpacked <= 0 {
		l.Unpacked = d.Unpacked
	}
	if l.Config <= 0 {
		l.Config = d.Config
	}
	return l
}

// LimitError reports input larger than a limit.
type LimitError struct {
	Name  string // the file (or file/entry) that is too large
	What  string // what was measured, e.g. "file", "decompressed data"
	Size  int64  // the size found, or -1 when only "more than Limit" is known
	Limit int64
	Flag  string // the flag that raises the limit
}

func (e *LimitError) Error() string {
	size := "more than " + FormatSize(e.Limit)
	if e.Size >= 0 {
		size = FormatSize(e.Size)
	}
	return fmt.Sprintf("%s: %s is %s, over the limit of %s; if the model is legitimately this large, raise the limit with %s",
		e.Name, e.What, size, FormatSize(e.Limit), e.Flag)
}

// ErrSpecial is wrapped by the errors for files that are not regular files.
var ErrSpecial = errors.New("not a regular file")

// CheckRegular refuses anything but a regular file (after following
// symbolic links): reading a device never ends, opening a FIFO blocks until
// a writer appears, and a directory has no bytes.
func CheckRegular(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkMode(path, st.Mode())
}

func checkMode(path string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	kind := "special file"
	switch {
	case m.IsDir():
		kind = "directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeCharDevice != 0:
		kind = "character device"
	case m&fs.ModeDevice != 0:
		kind = "device"
	}
	return fmt.Errorf("%s is a %s, %w: dqnn reads models, weights and inputs only from regular files", path, kind, ErrSpecial)
}

// Open opens the regular file at path for reading, refusing special files
// before they are opened: should the path be swapped for a FIFO after the
// check, the non-blocking open returns at once instead of waiting for a
// writer, and the opened file's own mode is checked again. Errors start
// with path; errors.Is(err, fs.ErrNotExist) still works.
func Open(path string) (*os.File, error) {
	if err := CheckRegular(path); err != nil {
		return nil, unwrapPath(path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, unwrapPath(path, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = checkMode(path, st.Mode())
	}
	if err != nil {
		f.Close()
		return nil, unwrapPath(path, err)
	}
	return f, nil
}

// ReadFile reads the regular file at path (see Open), refusing files larger
// than limit bytes (flag names the flag that raises it).
func ReadFile(path string, limit int64, flag string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPath(path, err)
	}
	if st.Size() > limit {
		return nil, &LimitError{Name: path, What: "the file", Size: st.Size(), Limit: limit, Flag: flag}
	}
	// The stat size presizes the buffer; the read is still capped, in
	// case the file grows while it is read.
	return ReadAll(f, limit, path, "the file", flag, st.Size())
}

// ReadAll reads r to its end, failing with a LimitError (naming name, what
// and flag) when it yields more than limit bytes; it never holds more than
// about twice limit. sizeHint presizes the buffer when it is within limit.
func ReadAll(r io.Reader, limit int64, name, what, flag string, sizeHint int64) ([]byte, error) {
	var b bytes.Buffer
	if sizeHint > 0 {
		b.Grow(int(min(sizeHint, limit)) + bytes.MinRead)
	}
	n, err := b.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n > limit {
		return nil, &LimitError{Name: name, What: what, Size: -1, Limit: limit, Flag: flag}
	}
	return b.Bytes(), nil
}

// unwrapPath prefixes err with path exactly once, keeping its cause.
func unwrapPath(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	if strings.HasPrefix(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// FormatSize writes n bytes as an exact count with a binary unit when one
// fits ("128 MiB (134217728 bytes)").
func FormatSize(n int64) string {
	for _, u := range []struct {
		s     string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s (%d bytes)", n>>u.shift, u.s, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// ParseSize reads a byte count for a limit flag: a number with an optional
// binary unit K, M, G (or KiB, MiB, GiB), e.g. "512M", "2G", "1048576".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	shift := uint(0)
	up := strings.ToUpper(t)
units:
	for _, u := range []struct {
		suf   []string
		shift uint
	}{{[]string{"GIB", "GB", "G"}, 30}, {[]string{"MIB", "MB", "M"}, 20}, {[]string{"KIB", "KB", "K"}, 10}} {
		for _, suf := range u.suf {
			if strings.HasSuffix(up, suf) {
				t, shift = strings.TrimSpace(t[:len(t)-len(suf)]), u.shift
				break units
			}
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)>>shift {
		return 0, fmt.Errorf("invalid size %q: want a positive byte count such as 1048576, 512M or 2G", s)
	}
	return v << shift, nil
}

// Budget draws the bytes of one limit across several reads (the entries of
// one zip, the datasets of one HDF5 file). It is safe for concurrent use.
type Budget struct {
	used             atomic.Int64
	limit            int64
	name, what, flag string
}

// NewBudget returns a budget of limit bytes; its errors name name, what is
// counted and the flag that raises the limit.
func NewBudget(limit int64, name, what, flag string) *Budget {
	return &Budget{limit: limit, name: name, what: what, flag: flag}
}

// Take draws n bytes, or fails with a LimitError (and draws nothing) when
// they would take the total past the limit.
func (b *Budget) Take(n int64) error {
	for {
		u := b.used.Load()
		if n < 0 || n > b.limit-u {
			size := int64(-1)
			if n >= 0 && u <= math.MaxInt64-n {
				size = u + n
			}
			return &LimitError{Name: b.name, What: b.what, Size: size, Limit: b.limit, Flag: b.flag}
		}
		if b.used.CompareAndSwap(u, u+n) {
			return nil
		}
	}
}

// Left returns the bytes still available.
func (b *Budget) Left() int64 { return b.limit - b.used.Load() }

// Allocated returns the bytes the Go heap allocated while f ran (tests and
// fuzz targets use it to assert that hostile input costs bounded memory;
// allocations of other goroutines running meanwhile are counted too).
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
