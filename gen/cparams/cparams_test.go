package cparams

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestFloat: every printed float reads back as the same float32.
func TestFloat(t *testing.T) {
	for _, f := range []float32{0, 1, -1, 0.1, 1e-38, 1.4e-45, 3.4028235e38, -2.5e-7, float32(math.Inf(1)), float32(math.Inf(-1))} {
		s := Float(f)
		if math.IsInf(float64(f), 0) {
			if want := map[bool]string{true: "INFINITY", false: "(-INFINITY)"}[f > 0]; s != want {
				t.Errorf("Float(%v) = %s, want %s", f, s, want)
			}
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "f"), 32)
		if err != nil || float32(v) != f {
			t.Errorf("Float(%v) = %s does not read back", f, s)
		}
	}
	if Int(math.MinInt32) != "(-2147483647 - 1)" {
		t.Error("INT32_MIN must be written without overflowing an int literal")
	}
}

// TestDefine checks an initialiser: every field designated in declaration
// order, enums by their C constant, empty arrays as NULL.
func TestDefine(t *testing.T) {
	got, err := Define("m_l0_os", OutputStage{Add: "m_l0_add", Act: ActRelu, OutInvScale: 0.5, QMin: -128, QMax: 127, ThrI: "m_l0_thr"})
	if err != nil {
		t.Fatal(err)
	}
	want := `static const dq_output_stage m_l0_os = {
  .mul = NULL,
  .add = m_l0_add,
  .act = DQ_ACT_RELU,
  .bn_sub = NULL,
  .bn_mul = NULL,
  .bn_add = NULL,
  .out_inv_scale = 5e-01f,
  .q_min = -128,
  .q_max = 127,
  .out_zp = 0,
  .thr_i = m_l0_thr,
  .thr_f = NULL,
  .flip = NULL,
};`
	if got != want {
		t.Errorf("Define:\n%s\nwant:\n%s", got, want)
	}
}

// TestDeclsCoverEveryField checks that the header declares every Go field of
// every struct once, in Go order, and every struct has a table entry.
func TestDeclsCoverEveryField(t *testing.T) {
	ds, err := Decls()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(Structs) {
		t.Fatalf("%d declarations for %d structs", len(ds), len(Structs))
	}
	seen := map[string]bool{}
	for i, d := range ds {
		typ := reflect.TypeOf(Structs[i].Params)
		if seen[d.Name] {
			t.Errorf("%s declared twice", d.Name)
		}
		seen[d.Name] = true
		var names []string
		for _, l := range d.Lines {
			decl, _, _ := strings.Cut(l, ";")
			for _, n := range strings.Split(decl, ",") {
				f := strings.Fields(strings.ReplaceAll(n, "*", " "))
				names = append(names, f[len(f)-1])
			}
		}
		if len(names) != typ.NumField() {
			t.Errorf("%s: header declares %v, Go type %s has %d fields", d.Name, names, typ.Name(), typ.NumField())
			continue
		}
		for j, n := range names {
			if tag, _, _ := strings.Cut(typ.Field(j).Tag.Get("c"), ","); tag != n {
				t.Errorf("%s field %d: header %s, Go tag %s", d.Name, j, n, tag)
			}
		}
	}
}

// TestFieldsRejects checks the tag rules on structs that break them.
func TestFieldsRejects(t *testing.T) {
	for name, v := range map[string]any{
		"no tag": struct{ A int32 }{},
		"unknown type": struct {
			A int64 `c:"a"`
		}{},
		"bad option": struct {
			A int32 `c:"a,glue"`
		}{},
		"join first": struct {
			A int32 `c:"a,join"`
		}{},
		"join mismatch": struct {
			A int32   `c:"a"`
			B float32 `c:"b,join"`
		}{},
	} {
		if _, err := fields(reflect.TypeOf(v)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, s := range Structs {
		if _, err := fields(reflect.TypeOf(s.Params)); err != nil {
			t.Error(err)
		}
	}
}

// TestEnumsCoverTheirTypes checks that every value of the enum types used
// in the structs has a C constant.
func TestEnumsCoverTheirTypes(t *testing.T) {
	for _, v := range []any{PadZero, PadValue, ActNone, ActRelu} {
		if s := value(reflect.ValueOf(v)); !strings.HasPrefix(s, "DQ_") {
			t.Errorf("%T(%v) renders as %s", v, v, s)
		}
	}
}
