package validate

import (
	"math"
	"testing"
)

func TestCompareIdentical(t *testing.T) {
	v := []float32{0.1, 0.7, 0.2, 0.5, 0.25, 0.25}
	m, err := Compare(v, v, 2, 3, DefaultTolerances)
	if err != nil {
		t.Fatal(err)
	}
	if m.RMSE != 0 || m.MAE != 0 || m.L2R != 0 || m.MaxAbs != 0 || m.Cos < 1-1e-12 || m.Acc != 1 || m.Worst != -1 {
		t.Errorf("identical arrays: %+v", m)
	}
	if f := m.Failures(DefaultTolerances); f != nil {
		t.Errorf("failures %v", f)
	}
}

func TestCompareValues(t *testing.T) {
	got := []float32{1, 0, 0, 0, 1, 0}
	want := []float32{0, 1, 0, 0, 1, 0}
	m, err := Compare(got, want, 2, 3, DefaultTolerances)
	if err != nil {
		t.Fatal(err)
	}
	// differences: 1, -1, 0, 0, 0, 0: se = 2, ae = 2, ||want|| = sqrt(2)
	check := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("rmse", m.RMSE, math.Sqrt(2.0/6))
	check("mae", m.MAE, 2.0/6)
	check("l2r", m.L2R, 1)
	check("cos", m.Cos, 0.5)
	check("maxabs", m.MaxAbs, 1)
	check("acc", m.Acc, 0.5)
	if m.Exceeding != 2 || m.Worst != 0 {
		t.Errorf("exceeding %d worst %d, want 2 and 0", m.Exceeding, m.Worst)
	}
	if len(m.Failures(DefaultTolerances)) != 4 {
		t.Errorf("failures %q, want elements, l2r, cos and acc", m.Failures(DefaultTolerances))
	}
}

func TestCompareTolerance(t *testing.T) {
	want := []float32{1, 2, 3}
	got := []float32{1, 2, math.Nextafter32(3, 4)}
	m, _ := Compare(got, want, 1, 3, DefaultTolerances)
	if f := m.Failures(DefaultTolerances); f != nil {
		t.Errorf("one ulp off fails: %v", f)
	}
	got[2] = 3.001
	m, _ = Compare(got, want, 1, 3, DefaultTolerances)
	if m.Failures(DefaultTolerances) == nil {
		t.Errorf("3.001 vs 3 passes: %+v", m)
	}
	loose := Tolerances{RTol: 1e-2, ATol: 0, MaxL2R: 1e-2, MinAcc: 1, MinCos: 0.99}
	if f := m.Failures(loose); f != nil {
		// Exceeding was computed with the default tolerance; recompute.
		m, _ = Compare(got, want, 1, 3, loose)
		if f := m.Failures(loose); f != nil {
			t.Errorf("loose tolerance fails: %v", f)
		}
	}
}

func TestCompareNaN(t *testing.T) {
	nan := float32(math.NaN())
	m, _ := Compare([]float32{nan, 1}, []float32{0, 1}, 1, 2, DefaultTolerances)
	if m.NaN != 1 || m.Failures(DefaultTolerances) == nil {
		t.Errorf("NaN not caught: %+v", m)
	}
	m, _ = Compare([]float32{nan, 1}, []float32{nan, 1}, 1, 2, DefaultTolerances)
	if m.NaN != 0 || m.Failures(DefaultTolerances) != nil {
		t.Errorf("NaN == NaN should pass: %+v", m)
	}
}

func TestCompareArgmaxTie(t *testing.T) {
	want := []float32{0.5, 0.5, 0}
	got := []float32{0.5, 0.50000006, 0}
	m, _ := Compare(got, want, 1, 3, DefaultTolerances)
	if m.Acc != 1 {
		t.Errorf("tie within tolerance counted as disagreement: acc %v", m.Acc)
	}
}

func TestCompareShape(t *testing.T) {
	if _, err := Compare([]float32{1}, []float32{1, 2}, 1, 2, DefaultTolerances); err == nil {
		t.Error("length mismatch accepted")
	}
}
