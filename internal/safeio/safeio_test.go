package safeio

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readWithin runs ReadFile and fails the test if it does not return within
// a few seconds (a FIFO opened for reading without O_NONBLOCK never does).
func readWithin(t *testing.T, path string, limit int64) ([]byte, error) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := ReadFile(path, limit, FlagFile)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadFile(%s) hangs", path)
		return nil, nil
	}
}

func TestSpecialFilesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.h5")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.npy")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	link := filepath.Join(dir, "zero.h5")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{
		"/dev/zero":    "character device",
		"/dev/urandom": "character device",
		link:           "character device",
		fifo:           "named pipe (FIFO)",
		sock:           "socket",
		dir:            "directory",
	} {
		if _, err := os.Stat(path); err != nil {
			t.Logf("skipping %s: %v", path, err)
			continue
		}
		_, err := readWithin(t, path, DefaultFile)
		if !errors.Is(err, ErrSpecial) || !strings.HasPrefix(err.Error(), path+" is a "+kind) {
			t.Errorf("%s: err = %v, want it refused as a %s", path, err, kind)
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "w.h5")
	if err := os.WriteFile(p, bytes.Repeat([]byte{7}, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p, 1000, FlagFile); err != nil || len(b) != 1000 {
		t.Fatalf("at the limit: %d bytes, %v", len(b), err)
	}
	_, err := ReadFile(p, 999, FlagFile)
	var le *LimitError
	if !errors.As(err, &le) || le.Size != 1000 || le.Limit != 999 {
		t.Fatalf("over the limit: err = %v", err)
	}
	for _, want := range []string{p + ":", "1000 bytes", "999 bytes", FlagFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.h5"), 10, FlagFile)
	if !errors.Is(err, fs.ErrNotExist) || strings.Count(err.Error(), "missing.h5") != 1 {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestReadAllStopsAtLimit(t *testing.T) {
	t.Parallel()
	// An endless reader: the read must stop just past the limit.
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	_, err = ReadAll(f, 1<<20, "x.keras/config.json", "the entry", FlagUnpacked, 1<<40)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "more than 1 MiB") {
		t.Fatalf("err = %v", err)
	}
	b, err := ReadAll(strings.NewReader("abc"), 3, "n", "w", FlagFile, 3)
	if err != nil || string(b) != "abc" {
		t.Errorf("exact limit: %q, %v", b, err)
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	b := NewBudget(100, "m.keras", "the unpacked entries", FlagUnpacked)
	if err := b.Take(60); err != nil {
		t.Fatal(err)
	}
	err := b.Take(41)
	if err == nil || !strings.Contains(err.Error(), "m.keras: the unpacked entries is 101 bytes, over the limit of 100 bytes") {
		t.Fatalf("err = %v", err)
	}
	if b.Left() != 40 || b.Take(40) != nil || b.Take(-1) == nil {
		t.Errorf("left %d after a refused take", b.Left())
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1048576": 1 << 20, "512M": 512 << 20, "2G": 2 << 30, "64KiB": 64 << 10, " 3 mb ": 3 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5G", "G", "99999999999G", "12X"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
	if got := FormatSize(128 << 20); got != "128 MiB (134217728 bytes)" {
		t.Errorf("FormatSize = %q", got)
	}
}
