package validate

import (
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/fuzzseed"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/internal/testenv"
)

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, shape := range [][]int{{6}, {2, 3}, {1, 2, 3}, {3, 28, 28, 1}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.5 - 3
		}
		p := filepath.Join(dir, "x.npy")
		if err := WriteNPY(p, data, shape); err != nil {
			t.Fatal(err)
		}
		got, gshape, err := ReadNPY(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gshape, shape) || !reflect.DeepEqual(got, data) {
			t.Errorf("shape %v: read back shape %v, data equal %v", shape, gshape, reflect.DeepEqual(got, data))
		}
	}
}

// TestNPYNumpy checks the files against NumPy itself when Debian's
// python3-numpy is installed.
func TestNPYNumpy(t *testing.T) {
	py := "/usr/bin/python3"
	testenv.Need(t, "/usr/bin/python3 with numpy (Debian python3-numpy)", exec.Command(py, "-c", "import numpy").Run())
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	if err := WriteNPY(p, []float32{1, 2, 3, 4, 5, 6}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "b.npy")
	out, err := exec.Command(py, "-c", `import numpy as np, sys
a = np.load(sys.argv[1]); print(a.dtype, a.shape, a.sum())
np.save(sys.argv[2], (np.arange(12, dtype=np.float64).reshape(3, 4) - 2))`, p, q).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "float32 (2, 3) 21.0" {
		t.Errorf("numpy read %q", got)
	}
	got, shape, err := ReadNPY(q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shape, []int{3, 4}) || got[0] != -2 || got[11] != 9 {
		t.Errorf("read numpy float64 file: shape %v data %v", shape, got)
	}
	os.Remove(q)
}

// npyFile builds a version-1 .npy file from a header dictionary and data.
func npyFile(dict string, data []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	return append(append(b, dict...), data...)
}

// npyCase is one hostile or unusual .npy file and the error it must give
// ("" = it must read).
type npyCase struct {
	name string
	data []byte
	want string
}

func npyCases() []npyCase {
	f4 := func(shape string) string {
		return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }\n"
	}
	v2 := []byte("\x93NUMPY\x02\x00\xf0\xff\xff\xff{'descr': '<f4'")
	return []npyCase{
		{"ok", npyFile(f4("(2, 1)"), make([]byte, 8)), ""},
		{"big-endian", npyFile("{'descr': '>i2', 'fortran_order': False, 'shape': (1,)}", []byte{1, 2}), ""},
		{"py2 longs", npyFile(f4("(1L, 2L)"), make([]byte, 8)), ""},
		{"issue: short header", []byte("\x93NUMPY\x01\x00\x76\x00{\"descr\": \"<f4\""), "truncated: the header declares 118 bytes, the file has 15 after the preamble"},
		{"issue: no closing brace", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", make([]byte, 8)), "header: at byte 56: want a quoted string"},
		{"issue: 10**12 x 16", npyFile(f4("(1000000000000, 16)"), make([]byte, 64)), "truncated: shape [1000000000000 16] of <f4 expects 64000000000000 bytes of data, the file has 64"},
		{"issue: v2 header of 0xFFFFFFF0 bytes", v2, "header length 4294967280 is over the 65536-byte limit"},
		{"issue: truncated data", npyFile(f4("(3, 4)"), make([]byte, 40)), "truncated: shape [3 4] of <f4 expects 48 bytes of data, the file has 40"},
		{"issue: trailing data", npyFile(f4("(3,)"), make([]byte, 13)), "1 bytes of trailing data after the 12 bytes that shape [3] of <f4 holds"},
		{"overflowing shape", npyFile(f4("(4611686018427387904, 4)"), nil), "declares more than 2^63 bytes of data"},
		{"dimension past int64", npyFile(f4("(99999999999999999999,)"), nil), "want a non-negative integer dimension"},
		{"negative dimension", npyFile(f4("(-1,)"), nil), "want a non-negative integer dimension"},
		{"not a tuple", npyFile(f4("(3)"), make([]byte, 12)), "shape (3) is not a tuple"},
		{"nested tuple", npyFile(f4("((1,), 2)"), nil), "want a non-negative integer dimension"},
		{"rank 65", npyFile(f4("("+strings.Repeat("1, ", 65)+")"), make([]byte, 4)), "more than 64 dimensions"},
		{"structured", npyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", make([]byte, 4)), "unsupported value"},
		{"float16", npyFile("{'descr': '<f2', 'fortran_order': False, 'shape': (1,)}", make([]byte, 2)), `element type "<f2" is not supported`},
		{"| on 4 bytes", npyFile("{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", make([]byte, 4)), `element type "|f4" is not supported`},
		{"fortran", npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", make([]byte, 16)), "Fortran order"},
		{"duplicate key", npyFile("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", nil), `key "descr" twice`},
		{"missing key", npyFile("{'descr': '<f4', 'shape': (1,)}", make([]byte, 4)), `no "fortran_order" key`},
		{"extra key", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 'y'}", make([]byte, 4)), "exactly descr, fortran_order and shape"},
		{"text after dict", npyFile(f4("(1,)")+"junk", make([]byte, 4)), "unexpected text after the dictionary"},
		{"escape", npyFile("{'descr': '<f\\4', 'fortran_order': False, 'shape': (1,)}", nil), "escapes in strings"},
		{"version 4", []byte("\x93NUMPY\x04\x00\x00\x00"), "format version 4.0 is not supported"},
		{"no magic", []byte("PK\x03\x04 not numpy"), `no "\x93NUMPY" magic`},
		{"empty", nil, `no "\x93NUMPY" magic`},
		{"v2 preamble cut", []byte("\x93NUMPY\x02\x00\x10\x00"), "truncated in the preamble"},
	}
}

// TestNPYHostile reads each case: hostile headers are clear errors naming
// the file, never a panic, and cost no more memory than the file. Not
// parallel: allocation is measured across the process.
func TestNPYHostile(t *testing.T) {
	for _, c := range npyCases() {
		var err error
		n := safeio.Allocated(func() { _, _, err = ParseNPY("x.npy", c.data) })
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x.npy: ")):
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if n > 64<<10 {
			t.Errorf("%s: reading %d bytes allocated %d", c.name, len(c.data), n)
		}
	}
	got, shape, err := ParseNPY("x.npy", npyFile("{'descr': '>i2', 'fortran_order': False, 'shape': (1,)}", []byte{1, 2}))
	if err != nil || got[0] != 258 || !reflect.DeepEqual(shape, []int{1}) {
		t.Errorf("big-endian int16: %v %v %v", got, shape, err)
	}
}

// TestNPYSpecialFiles gives /dev/zero and a FIFO as inputs: refused at once.
func TestNPYSpecialFiles(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "x.npy")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", fifo} {
		done := make(chan error, 1)
		go func() { _, _, err := ReadNPY(p); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, safeio.ErrSpecial) {
				t.Errorf("%s: err = %v", p, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadNPY(%s) hangs", p)
		}
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed seed corpus of FuzzParseNPY")

// FuzzParseNPY parses arbitrary bytes as .npy: errors naming the file are
// fine, panics are not, a result holds exactly the shape's element count,
// and memory stays within a small multiple of the input. Seeds: the cases
// of TestNPYHostile (go test -run FuzzParseNPY -update-seeds rewrites the
// committed ones).
func FuzzParseNPY(f *testing.F) {
	var seeds [][]byte
	for _, c := range npyCases() {
		seeds = append(seeds, c.data)
	}
	if *updateSeeds {
		if err := fuzzseed.Write("FuzzParseNPY", seeds...); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []float32
		var shape []int
		var err error
		n := safeio.Allocated(func() { got, shape, err = ParseNPY("fuzz.npy", data) })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.npy: ") {
				t.Fatalf("error without the file name: %v", err)
			}
		} else {
			want := 1
			for _, d := range shape {
				want *= d
			}
			if want != len(got) {
				t.Fatalf("shape %v but %d values", shape, len(got))
			}
		}
		// 1-byte elements become 4-byte float32s.
		if bound := uint64(256<<10 + 8*len(data)); n > bound {
			t.Fatalf("parsing %d bytes allocated %d (bound %d)", len(data), n, bound)
		}
	})
}

// TestNPYNumpyFormats reads what NumPy writes in every header version and
// byte order the reader accepts, when Debian's python3-numpy is installed.
func TestNPYNumpyFormats(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	testenv.Need(t, "/usr/bin/python3 with numpy (Debian python3-numpy)", exec.Command(py, "-c", "import numpy").Run())
	dir := t.TempDir()
	out, err := exec.Command(py, "-c", `import numpy as np, sys, os
a = np.arange(-6, 6).reshape(3, 2, 2)
i = 0
for v in [(1, 0), (2, 0), (3, 0)]:
    for dt in ['<f4', '>f8', '|i1', '<u2', '>i4', '<i8', '>u8']:
        with open(os.path.join(sys.argv[1], '%02d_%s.npy' % (i, dt[1:])), 'wb') as f:
            np.lib.format.write_array(f, (a + (6 if dt[1] == 'u' else 0)).astype(dt), version=v)
        i += 1`, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.npy"))
	if len(files) != 21 {
		t.Fatalf("numpy wrote %d files", len(files))
	}
	for _, p := range files {
		got, shape, err := ReadNPY(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		off := float32(-6)
		if strings.Contains(filepath.Base(p), "_u") {
			off = 0
		}
		if !reflect.DeepEqual(shape, []int{3, 2, 2}) || got[0] != off || got[11] != off+11 {
			t.Errorf("%s: shape %v data %v", filepath.Base(p), shape, got)
		}
	}
}

// TestSampleCount pins the one shape rule for input files.
func TestSampleCount(t *testing.T) {
	t.Parallel()
	in := []int{28, 28, 1}
	for _, c := range []struct {
		shape []int
		want  int // 0: refused
	}{
		{[]int{28, 28, 1}, 1},
		{[]int{5, 28, 28, 1}, 5},
		{[]int{5, 784}, 5},
		{[]int{5, 28, 28}, 5},
		{[]int{5, 1, 784}, 5},
		{[]int{1, 28, 28, 1}, 1},
		{[]int{784}, 0},
		{[]int{0, 784}, 0},
		{[]int{5, 783}, 0},
		{[]int{28, 28}, 0},
		{[]int{}, 0},
	} {
		got, err := SampleCount("x.npy", c.shape, `input "in"`, in)
		if got != c.want || (err != nil) != (c.want == 0) {
			t.Errorf("shape %v: %d samples, %v; want %d", c.shape, got, err, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "x.npy: shape") {
			t.Errorf("shape %v: %v", c.shape, err)
		}
	}
	// A one-element input takes (N,) as N samples.
	if got, err := SampleCount("x.npy", []int{7}, `input "in"`, []int{1}); got != 7 || err != nil {
		t.Errorf("(7,) for a (1,) input: %d, %v", got, err)
	}
}
