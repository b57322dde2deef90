package emit

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TestPackS1 checks the s1 weight layout of dq_types.h: rows along the last
// dimension, element i of a row is bit i%32 of word i/32, bit 1 = -1, unused
// high bits 0.
func TestPackS1(t *testing.T) {
	e := &emitter{m: &Model{Name: "m"}}
	codes := make([]int32, 2*35)
	for i := range codes {
		codes[i] = 1
	}
	codes[0], codes[33], codes[35+34] = -1, -1, -1
	name, err := e.packWeights("w", &ir.KernelWeights{DType: dtype.S1, Shape: []int{2, 35}, Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	a := e.m.Data[0]
	if name != "m_w" || a.Len != 4 || a.CType != "uint32_t" {
		t.Fatalf("array %s: %+v", name, a)
	}
	got := strings.Join(a.Lines, " ")
	want := "0x00000001u, 0x00000002u, 0x00000000u, 0x00000004u,"
	if got != want {
		t.Errorf("packed %q, want %q", got, want)
	}
}

// TestPackS8 checks the s8 weight layout: the codes in row-major order of the
// kernel layout, one int8_t each, every value kept (0 and 1 included).
func TestPackS8(t *testing.T) {
	e := &emitter{m: &Model{Name: "m"}}
	codes := []int32{0, 1, -1, -128, 127, 1, 0, 5}
	name, err := e.packWeights("w", &ir.KernelWeights{DType: dtype.S8, Shape: []int{2, 4}, Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	a := e.m.Data[0]
	if name != "m_w" || a.Len != len(codes) || a.CType != "int8_t" {
		t.Fatalf("array %s: %+v", name, a)
	}
	got := strings.Fields(strings.ReplaceAll(strings.Join(a.Lines, " "), ",", " "))
	var want []string
	for _, c := range codes {
		want = append(want, strconv.Itoa(int(c)))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("packed %v, want %v", got, want)
	}
}

// TestCheckName: --name is a letter-first C identifier of at most MaxName
// characters outside the runtime's namespace, in any case.
func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"mnist": true, "Net_v2": true, "dqx": true, "dqnnx": true, strings.Repeat("a", MaxName): true,
		"": false, "1net": false, "_net": false, "net-v2": false, "n\u00e9t": false, "a b": false, "a*/b": false,
		strings.Repeat("a", MaxName+1): false,
		"dq":                           false, "dq_types": false, "DQ_KERNELS": false, "dq_dense_f32_s8_s8": false, "dqnn": false, "dqnn_trace": false,
	} {
		err := CheckName(name)
		if (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "choose another") {
			t.Errorf("CheckName(%q): %v does not say what to do", name, err)
		}
	}
}
