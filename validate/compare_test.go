package validate

import (
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

func TestCompareTraceS8(t *testing.T) {
	// Two channels with their own scales, zero point 3.
	tq := &ir.Tensor{Name: "a", Shape: []int{2, 2}, Quant: ir.Quant{DType: dtype.S8, Scale: []float32{0.5, 0.25}, ZeroPoint: 3, QMin: -100, QMax: 100}}
	want := []float32{0.5 * (10 - 3), 0.25 * (-7 - 3), 0.5 * (0 - 3), 0.25 * (127 - 3)}
	codes := []byte{10, byte(0xF9), 0, 127}
	var lr LayerReport
	if err := compareTrace(Trace{DType: traceS8, Data: codes}, tq, want, DefaultTolerances, &lr); err != nil {
		t.Fatal(err)
	}
	if lr.Mismatches != 0 {
		t.Fatalf("exact codes: %d mismatches (%s)", lr.Mismatches, lr.FirstBad)
	}
	codes[1] = byte(0xF8) // -8 instead of -7
	lr = LayerReport{}
	compareTrace(Trace{DType: traceS8, Data: codes}, tq, want, DefaultTolerances, &lr)
	if lr.Mismatches != 1 || !strings.Contains(lr.FirstBad, "element 1: code -8, want -7") {
		t.Errorf("off-by-one code: %d mismatches, %q", lr.Mismatches, lr.FirstBad)
	}
	lr = LayerReport{}
	if err := compareTrace(Trace{DType: traceS8, Data: codes[:3]}, tq, want, DefaultTolerances, &lr); err == nil {
		t.Error("short trace accepted")
	}
	tf := &ir.Tensor{Name: "b", Shape: []int{4}, Quant: ir.Float()}
	if err := compareTrace(Trace{DType: traceS8, Data: codes}, tf, want, DefaultTolerances, &lr); err == nil {
		t.Error("s8 trace of an f32 tensor accepted")
	}
}

func TestCompareTraceS1Padding(t *testing.T) {
	tq := &ir.Tensor{Name: "s", Shape: []int{1, 3}, Quant: ir.Quant{DType: dtype.S1, Scale: []float32{1}}}
	want := []float32{1, -1, 0} // bits 0, 1, 0: word 0b010
	var lr LayerReport
	compareTrace(Trace{DType: traceS1, Data: []byte{2, 0, 0, 0}}, tq, want, DefaultTolerances, &lr)
	if lr.Mismatches != 0 {
		t.Fatalf("exact bits: %s", lr.FirstBad)
	}
	lr = LayerReport{}
	compareTrace(Trace{DType: traceS1, Data: []byte{2 | 8, 0, 0, 0}}, tq, want, DefaultTolerances, &lr)
	if lr.Mismatches != 1 || !strings.Contains(lr.FirstBad, "padding bit 3") {
		t.Errorf("set padding bit: %d mismatches, %q", lr.Mismatches, lr.FirstBad)
	}
}

func TestParseRunner(t *testing.T) {
	good := "out 0 0 0000803f\nout 1 0 00000040\ndone\n"
	r, err := ParseRunner(good, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outputs[0][0][0] != 1 || r.Outputs[1][0][0] != 2 {
		t.Errorf("parsed %v", r.Outputs)
	}
	// Tensor names are hex after "n": any bytes a model file holds.
	r, err = ParseRunner("trace 0 2 2 n610a2062 ff01\nlayer n\nlayer n2a2f\n"+good, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Traces) != 1 || r.Traces[0].Name != "a\n b" || r.Traces[0].Data[0] != 0xff || strings.Join(r.Layers, ",") != ",*/" {
		t.Errorf("parsed traces %+v, layers %q", r.Traces, r.Layers)
	}
	for name, bad := range map[string]string{
		"raw trace name": "trace 0 2 2 a b ff01\n" + good,
		"odd name hex":   "trace 0 2 2 n610 ff01\n" + good,
		"raw layer name": "layer relu1\n" + good,
		"no done":        "out 0 0 0000803f\nout 1 0 00000040\n",
		"missing sample": "out 0 0 0000803f\ndone\n",
		"bad hex":        "out 0 0 0000803g\nout 1 0 00000040\ndone\n",
		"odd bytes":      "out 0 0 0000803f00\nout 1 0 00000040\ndone\n",
		"error status":   "rc 0 -1\n",
		"bad sample":     "out 5 0 0000803f\ndone\n",
	} {
		if _, err := ParseRunner(bad, 2, 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCompareOutputCodes: an s8 output one code off, or an s1 output with a
// flipped sign, fails however close the values are; exact codes pass.
func TestCompareOutputCodes(t *testing.T) {
	s8 := &ir.Tensor{Name: "y", Shape: []int{1, 2}, Quant: ir.Quant{DType: dtype.S8, Scale: []float32{0.5, 0.25}, ZeroPoint: -2, QMin: -128, QMax: 127}}
	want := [][]float32{{0.5 * 9, 0.25 * -4}, {0.5 * -1, 0.25 * 100}}
	r, err := compareOutput(s8, want, want, DefaultTolerances)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pass || r.CodeMismatches != 0 {
		t.Fatalf("identical s8 outputs: pass %v, %d code mismatches, %v", r.Pass, r.CodeMismatches, r.Failures)
	}
	got := [][]float32{{0.5 * 9, 0.25 * -4}, {0.5 * -1, 0.25 * 101}} // one code off
	if r, _ = compareOutput(s8, got, want, DefaultTolerances); r.Pass || r.CodeMismatches != 1 {
		t.Errorf("s8 output one code off: pass %v, %d code mismatches, want a failure with 1", r.Pass, r.CodeMismatches)
	}
	s1 := &ir.Tensor{Name: "b", Shape: []int{3}, Quant: ir.Quant{DType: dtype.S1, Scale: []float32{1}}}
	if r, _ = compareOutput(s1, [][]float32{{1, -1, 1e-9}}, [][]float32{{1, -1, -1e-9}}, DefaultTolerances); r.Pass || r.CodeMismatches != 1 {
		t.Errorf("s1 output with one sign flipped: pass %v, %d code mismatches, want a failure with 1", r.Pass, r.CodeMismatches)
	}
}
