package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
