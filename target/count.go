package target

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// pluginFS holds the instruction-counting QEMU plugin's source.
//
//go:embed plugin/dq_count.c plugin/dq_qemu_plugin.h
var pluginFS embed.FS

var pluginOnce struct {
	sync.Mutex
	path string
}

// CountPlugin builds (once per source version, cached in the user cache
// directory) the QEMU plugin that counts instructions and returns the path
// of the shared object.
func CountPlugin(ctx context.Context) (string, error) {
	pluginOnce.Lock()
	defer pluginOnce.Unlock()
	if pluginOnce.path != "" {
		return pluginOnce.path, nil
	}
	src, err := pluginFS.ReadFile("plugin/dq_count.c")
	if err != nil {
		return "", err
	}
	hdr, err := pluginFS.ReadFile("plugin/dq_qemu_plugin.h")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(src)
	h.Write(hdr)
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "dqnn", "qemu-plugin-"+sum)
	so := filepath.Join(dir, "libdq_count.so")
	if _, err := os.Stat(so); err == nil {
		pluginOnce.path = so
		return so, nil
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return "", fmt.Errorf("building the QEMU counting plugin: gcc not found; install with: apt-get install gcc")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := writeIfChanged(filepath.Join(dir, "dq_count.c"), src); err != nil {
		return "", err
	}
	if err := writeIfChanged(filepath.Join(dir, "dq_qemu_plugin.h"), hdr); err != nil {
		return "", err
	}
	tmp := so + fmt.Sprintf(".%d.tmp", os.Getpid())
	cmd := exec.CommandContext(ctx, "gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
		"-o", tmp, filepath.Join(dir, "dq_count.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the QEMU counting plugin: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, so); err != nil {
		return "", err
	}
	pluginOnce.path = so
	return so, nil
}

// Symbols returns the addresses of the function symbols in a Cortex-M ELF
// (Thumb bit cleared), read with arm-none-eabi-nm.
func Symbols(ctx context.Context, exe string) (map[string]uint64, error) {
	out, err := exec.CommandContext(ctx, "arm-none-eabi-nm", exe).Output()
	if err != nil {
		return nil, fmt.Errorf("arm-none-eabi-nm %s: %w", exe, err)
	}
	syms := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		syms[f[2]] = v &^ 1
	}
	return syms, nil
}

// countSetup is one counting run: the plugin, the markers and the log file.
type countSetup struct {
	plugin  string
	log     string
	symbols []string // marker symbols, index = plugin marker index
	addrs   []uint64
	pairs   [][2]string
}

func setupCount(ctx context.Context, exe string, pairs [][2]string, tmp string) (*countSetup, error) {
	so, err := CountPlugin(ctx)
	if err != nil {
		return nil, err
	}
	syms, err := Symbols(ctx, exe)
	if err != nil {
		return nil, err
	}
	c := &countSetup{plugin: so, log: filepath.Join(tmp, "count.log"), pairs: pairs}
	index := map[string]bool{}
	for _, p := range pairs {
		for _, s := range p {
			if index[s] {
				continue
			}
			a, ok := syms[s]
			if !ok {
				return nil, fmt.Errorf("counting instructions in %s: marker function %q not found (is it defined, called and not inlined?)", exe, s)
			}
			index[s] = true
			c.symbols = append(c.symbols, s)
			c.addrs = append(c.addrs, a)
		}
	}
	if len(c.symbols) > 64 {
		return nil, fmt.Errorf("counting instructions: %d marker symbols, at most 64", len(c.symbols))
	}
	return c, nil
}

func (c *countSetup) pluginArg() string {
	var b strings.Builder
	b.WriteString(c.plugin)
	b.WriteString(",out=" + c.log)
	for _, a := range c.addrs {
		fmt.Fprintf(&b, ",mark=0x%x", a)
	}
	return b.String()
}

// collect reads the plugin's log into res.Marks and res.Instructions.
func (c *countSetup) collect(res *Result) error {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return fmt.Errorf("instruction counter wrote no log: %w", err)
	}
	res.Instructions = map[string]uint64{}
	haveTotal := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "m":
			i, err1 := strconv.Atoi(f[1])
			n, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || i < 0 || i >= len(c.symbols) {
				return fmt.Errorf("instruction counter log: bad line %q", line)
			}
			res.Marks = append(res.Marks, Mark{Symbol: c.symbols[i], Count: n})
		case len(f) == 2 && f[0] == "total":
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return fmt.Errorf("instruction counter log: bad line %q", line)
			}
			res.Instructions["total"] = n
			haveTotal = true
		case len(f) == 0:
		default:
			return fmt.Errorf("instruction counter log: bad line %q", line)
		}
	}
	if !haveTotal {
		return fmt.Errorf("instruction counter log has no total (did QEMU exit cleanly?)")
	}
	for _, p := range c.pairs {
		res.Instructions[p[0]+".."+p[1]] = Between(res.Marks, p[0], p[1])
	}
	return nil
}

// Between sums, over marks, the instructions from each entry of a to the
// next entry of b.
func Between(marks []Mark, a, b string) uint64 {
	var sum uint64
	open := false
	var start uint64
	for _, m := range marks {
		if open && m.Symbol == b {
			sum += m.Count - start
			open = false
			if a != b {
				continue
			}
		}
		if m.Symbol == a && !open {
			open, start = true, m.Count
		}
	}
	return sum
}

// Size is the memory footprint of a linked Cortex-M image.
type Size struct {
	Text, Data, BSS uint64 // bytes: code + constants, initialised data, zeroed data
}

// ImageSize reads the section sizes of exe with arm-none-eabi-size (Berkeley
// format). Text includes the vector table and read-only data, BSS includes
// the runtime's 64 KB stack.
func ImageSize(ctx context.Context, exe string) (Size, error) {
	out, err := exec.CommandContext(ctx, "arm-none-eabi-size", "-B", exe).Output()
	if err != nil {
		return Size{}, fmt.Errorf("arm-none-eabi-size %s: %w", exe, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return Size{}, fmt.Errorf("arm-none-eabi-size %s: unexpected output %q", exe, out)
	}
	f := strings.Fields(lines[1])
	if len(f) < 3 {
		return Size{}, fmt.Errorf("arm-none-eabi-size %s: unexpected output %q", exe, out)
	}
	var v [3]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return Size{}, fmt.Errorf("arm-none-eabi-size %s: unexpected output %q", exe, out)
		}
	}
	return Size{Text: v[0], Data: v[1], BSS: v[2]}, nil
}

// Symbol is one entry of an image's symbol table.
type Symbol struct {
	Name string
	Type byte   // nm's type letter: T/t code, R/r read-only data, D/d data, B/b bss
	Addr uint64 // Thumb bit cleared for functions
	Size uint64
}

// SymbolTable lists the sized symbols of a Cortex-M image (arm-none-eabi-nm -S),
// sorted by name.
func SymbolTable(ctx context.Context, exe string) ([]Symbol, error) {
	out, err := exec.CommandContext(ctx, "arm-none-eabi-nm", "-S", exe).Output()
	if err != nil {
		return nil, fmt.Errorf("arm-none-eabi-nm -S %s: %w", exe, err)
	}
	var syms []Symbol
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || len(f[2]) != 1 {
			continue
		}
		a, err1 := strconv.ParseUint(f[0], 16, 64)
		n, err2 := strconv.ParseUint(f[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		t := f[2][0]
		if t == 'T' || t == 't' {
			a &^= 1
		}
		syms = append(syms, Symbol{Name: f[3], Type: t, Addr: a, Size: n})
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].Name < syms[j].Name })
	return syms, nil
}

// SymbolSizes returns the sizes in bytes of the symbols in exe whose names
// satisfy keep, and their names sorted.
func SymbolSizes(ctx context.Context, exe string, keep func(string) bool) (map[string]uint64, []string, error) {
	syms, err := SymbolTable(ctx, exe)
	if err != nil {
		return nil, nil, err
	}
	sizes := map[string]uint64{}
	var names []string
	for _, s := range syms {
		if keep(s.Name) {
			if _, dup := sizes[s.Name]; !dup {
				names = append(names, s.Name)
			}
			sizes[s.Name] += s.Size
		}
	}
	return sizes, names, nil
}
