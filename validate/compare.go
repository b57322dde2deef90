package validate

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Trace dtypes, as dqnn_trace reports them.
const (
	traceF32 = 1
	traceS8  = 2
	traceS1  = 3
)

func traceDType(d int) dtype.DType {
	switch d {
	case traceF32:
		return dtype.F32
	case traceS8:
		return dtype.S8
	case traceS1:
		return dtype.S1
	}
	return dtype.Invalid
}

// LayerReport compares one traced tensor over all samples.
type LayerReport struct {
	CID        int     `json:"c_id"`  // the C-layer that writes the tensor, numbered as dqnn analyze numbers it (-1: none)
	Layer      string  `json:"layer"` // its Keras layer, as dqnn analyze names it
	Tensor     string  `json:"tensor"`
	DType      string  `json:"dtype"`
	Elements   int     `json:"elements"`   // per sample
	Mismatches int     `json:"mismatches"` // s1/s8: codes that differ; f32: elements outside tolerance
	MaxAbs     float64 `json:"max_abs"`    // f32: largest absolute error
	FirstBad   string  `json:"first_bad,omitempty"`
	Error      string  `json:"error,omitempty"` // tensor could not be compared (unknown name, size, type)
	Pass       bool    `json:"pass"`
}

// code returns the s8 code of real value v in channel c of a tensor with Quant q.
func code(q ir.Quant, v float32, c int) int32 {
	s := q.Scale[0]
	if len(q.Scale) > 1 {
		s = q.Scale[c%len(q.Scale)]
	}
	r := math.RoundToEven(float64(v) / float64(s))
	r += float64(q.ZeroPoint)
	return int32(math.Max(-128, math.Min(127, r)))
}

// compareTrace checks one traced tensor against the interpreter's values of
// the graph tensor t (f32 values in row-major order).
func compareTrace(tr Trace, t *ir.Tensor, want []float32, tol Tolerances, lr *LayerReport) error {
	shape := t.Shape
	n := ir.NumElements(shape)
	if len(want) != n {
		return fmt.Errorf("the interpreter has %d values for shape %v", len(want), shape)
	}
	c := 1
	if len(shape) > 0 {
		c = shape[len(shape)-1]
	}
	rows := n / max(c, 1)
	lr.Elements = n
	switch tr.DType {
	case traceF32:
		lr.DType = "f32"
		if len(tr.Data) != 4*n {
			return fmt.Errorf("traced %d bytes of f32, shape %v needs %d", len(tr.Data), shape, 4*n)
		}
		got := floats(tr.Data)
		m, err := Compare(got, want, 1, n, tol)
		if err != nil {
			return err
		}
		lr.MaxAbs = math.Max(lr.MaxAbs, m.MaxAbs)
		if f := m.Failures(tol); f != nil {
			lr.Mismatches += max(m.Exceeding, 1)
			if lr.FirstBad == "" && m.Worst >= 0 {
				lr.FirstBad = fmt.Sprintf("sample %d element %d: got %g, want %g", tr.Sample, m.Worst, got[m.Worst], want[m.Worst])
			} else if lr.FirstBad == "" {
				lr.FirstBad = fmt.Sprintf("sample %d: %v", tr.Sample, f)
			}
		}
	case traceS8:
		lr.DType = "s8"
		if len(tr.Data) != n {
			return fmt.Errorf("traced %d bytes of s8, shape %v needs %d", len(tr.Data), shape, n)
		}
		if t.Quant.DType != dtype.S8 || len(t.Quant.Scale) == 0 {
			return fmt.Errorf("traced as s8 but the graph tensor is %s without an s8 scale", t.Quant.DType)
		}
		for i := 0; i < n; i++ {
			got, exp := int32(int8(tr.Data[i])), code(t.Quant, want[i], i%c)
			if got != exp {
				lr.Mismatches++
				if lr.FirstBad == "" {
					lr.FirstBad = fmt.Sprintf("sample %d element %d: code %d, want %d (value %g)", tr.Sample, i, got, exp, want[i])
				}
			}
		}
	case traceS1:
		lr.DType = "s1"
		wpr := dtype.Words(c)
		if len(tr.Data) != 4*rows*wpr {
			return fmt.Errorf("traced %d bytes of s1, shape %v needs %d", len(tr.Data), shape, 4*rows*wpr)
		}
		for r := 0; r < rows; r++ {
			for w := 0; w < wpr; w++ {
				word := binary.LittleEndian.Uint32(tr.Data[4*(r*wpr+w):])
				for b := 0; b < 32; b++ {
					ch := w*32 + b
					bit := word >> b & 1
					if ch >= c {
						if bit != 0 {
							lr.Mismatches++
							if lr.FirstBad == "" {
								lr.FirstBad = fmt.Sprintf("sample %d row %d: padding bit %d of the last word is set", tr.Sample, r, b)
							}
						}
						continue
					}
					v := want[r*c+ch]
					exp := uint32(0)
					if v < 0 {
						exp = 1
					}
					if bit != exp {
						lr.Mismatches++
						if lr.FirstBad == "" {
							lr.FirstBad = fmt.Sprintf("sample %d element %d: bit %d (%+d), want %+d (value %g)", tr.Sample, r*c+ch, bit, 1-2*int(bit), 1-2*int(exp), v)
						}
					}
				}
			}
		}
	default:
		return fmt.Errorf("unknown trace dtype %d", tr.DType)
	}
	return nil
}

// OutputReport compares one model output over all samples.
type OutputReport struct {
	Name    string  `json:"name"`
	Shape   []int   `json:"shape"`
	DType   string  `json:"dtype"` // of the graph tensor; the C API returns float
	Metrics Metrics `json:"metrics"`
	// CodeMismatches counts, for s1/s8 outputs, elements whose quantized code
	// differs (these must match bit for bit).
	CodeMismatches int      `json:"code_mismatches"`
	Failures       []string `json:"failures,omitempty"`
	Pass           bool     `json:"pass"`
}

// compareOutput compares output o of every sample.
func compareOutput(t *ir.Tensor, got, want [][]float32, tol Tolerances) (OutputReport, error) {
	n := ir.NumElements(t.Shape)
	var g, w []float32
	for s := range got {
		if len(got[s]) != n || len(want[s]) != n {
			return OutputReport{}, fmt.Errorf("output %q sample %d: %d values from C, %d from the interpreter, want %d", t.Name, s, len(got[s]), len(want[s]), n)
		}
		g = append(g, got[s]...)
		w = append(w, want[s]...)
	}
	m, err := Compare(g, w, len(got), n, tol)
	if err != nil {
		return OutputReport{}, err
	}
	r := OutputReport{Name: t.Name, Shape: t.Shape, DType: t.Quant.DType.Tag(), Metrics: m}
	c := 1
	if len(t.Shape) > 0 {
		c = t.Shape[len(t.Shape)-1]
	}
	switch t.Quant.DType {
	case dtype.S8:
		if len(t.Quant.Scale) > 0 {
			for i := range g {
				if code(t.Quant, g[i], i%n%c) != code(t.Quant, w[i], i%n%c) {
					r.CodeMismatches++
				}
			}
		}
	case dtype.S1:
		for i := range g {
			if (g[i] < 0) != (w[i] < 0) {
				r.CodeMismatches++
			}
		}
	}
	r.Failures = m.Failures(tol)
	if r.CodeMismatches > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d quantized codes differ (%s output must match bit for bit)", r.CodeMismatches, r.DType))
	}
	r.Pass = len(r.Failures) == 0
	return r, nil
}
