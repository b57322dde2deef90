package matrix

import (
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir/dtype"
)

func TestTableValid(t *testing.T) {
	if err := Validate(Rows); err != nil {
		t.Fatal(err)
	}
	if len(Table) != len(Rows) {
		t.Fatalf("Table has %d kernels, Rows %d", len(Table), len(Rows))
	}
}

// TestWeightedFamiliesComplete checks the 4 x 27 full type matrix of the weighted families.
func TestWeightedFamiliesComplete(t *testing.T) {
	n := 0
	for _, op := range []Op{Dense, Conv2D, PWConv2D, DWConv2D} {
		for _, in := range dtype.Compute {
			for _, w := range dtype.Compute {
				for _, out := range dtype.Compute {
					if _, ok := Find(op, in, w, out); !ok {
						t.Errorf("missing %s %s x %s -> %s", op, in, w, out)
					}
					n++
				}
			}
		}
	}
	if n != 108 {
		t.Fatalf("counted %d weighted combinations", n)
	}
	if len(Table) != 132 {
		t.Errorf("table has %d kernels, want 132 (108 weighted + 24 others)", len(Table))
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct {
		k    Kernel
		want string
	}{
		{Kernel{Conv2D, dtype.S1, dtype.S1, dtype.S1}, "dq_conv2d_s1_s1_s1"},
		{Kernel{Dense, dtype.S8, dtype.S1, dtype.F32}, "dq_dense_s8_s1_f32"},
		{Kernel{MaxPool, dtype.S1, dtype.Invalid, dtype.S1}, "dq_maxpool_s1_s1"},
		{Kernel{Convert, dtype.F32, dtype.Invalid, dtype.S8}, "dq_convert_f32_s8"},
		{Kernel{Softmax, dtype.F32, dtype.Invalid, dtype.F32}, "dq_softmax_f32_f32"},
		{Kernel{Affine, dtype.F32, dtype.Invalid, dtype.S1}, "dq_affine_f32_s1"},
	} {
		if got := c.k.Name(); got != c.want {
			t.Errorf("Name() = %q, want %q", got, c.want)
		}
		if k, ok := ByName(c.want); !ok || k != c.k {
			t.Errorf("ByName(%q) = %v, %v", c.want, k, ok)
		}
	}
	// Find ignores the weight type of weightless families.
	if _, ok := Find(MaxPool, dtype.S8, dtype.S1, dtype.S8); !ok {
		t.Error("Find(maxpool s8) with a weight type failed")
	}
	if _, ok := Find(Dense, dtype.S1, dtype.Invalid, dtype.S1); ok {
		t.Error("Find(dense without weights) succeeded")
	}
}

func TestValidateRejects(t *testing.T) {
	for _, c := range []struct {
		row  Row
		want string
	}{
		{Row{Kernel{MaxPool, dtype.F32, dtype.Invalid, dtype.S8}, "x"}, "keeps the element type"},
		{Row{Kernel{Dense, dtype.F32, dtype.Invalid, dtype.F32}, "x"}, "needs a weight type"},
		{Row{Kernel{Relu, dtype.F32, dtype.S1, dtype.F32}, "x"}, "takes no weights"},
		{Row{Kernel{Softmax, dtype.S8, dtype.Invalid, dtype.S8}, "x"}, "f32 only"},
		{Row{Kernel{Convert, dtype.S8, dtype.Invalid, dtype.S8}, "x"}, "two different types"},
		{Row{Kernel{Affine, dtype.S1, dtype.Invalid, dtype.S1}, "x"}, "constant per channel"},
		{Row{Kernel{Dense, dtype.S32, dtype.S1, dtype.F32}, "x"}, "must be f32, s8 or s1"},
		{Row{Kernel{"fft", dtype.F32, dtype.Invalid, dtype.F32}, "x"}, "unknown op"},
		{Row{Kernel{Dense, dtype.F32, dtype.F32, dtype.F32}, ""}, "Covers is empty"},
	} {
		err := Validate([]Row{c.row})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%v) = %v, want an error containing %q", c.row.Kernel, err, c.want)
		}
	}
	dup := []Row{Rows[0], Rows[0]}
	if err := Validate(dup); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate rows: %v", err)
	}
}

// TestReferenceRows checks the rows that mirror the reference's tables 6.3-6.5.
func TestReferenceRows(t *testing.T) {
	mirror := 0
	for _, r := range Rows {
		if r.MirrorsReference() {
			mirror++
		}
	}
	for _, name := range []string{"dq_dense_s1_s1_s1", "dq_dense_s8_s8_s8", "dq_dense_f32_s1_f32", "dq_conv2d_s1_s1_s1",
		"dq_pwconv2d_s1_s1_s1", "dq_dwconv2d_s1_s1_s1", "dq_conv2d_s8_s8_s1", "dq_maxpool_s1_s1", "dq_concat_s1_s1"} {
		k, _ := ByName(name)
		if r, ok := RowOf(k); !ok || !r.MirrorsReference() {
			t.Errorf("%s should mirror a reference row", name)
		}
	}
	if mirror < 30 {
		t.Errorf("only %d rows mirror the reference", mirror)
	}
}

// TestVariants checks the variant table and that ValidateVariants rejects
// a repeated name, an unknown ISA and a type pair without kernels.
func TestVariants(t *testing.T) {
	if err := ValidateVariants(Variants, Rows); err != nil {
		t.Fatal(err)
	}
	for _, v := range Variants {
		if len(v.Kernels(Rows)) == 0 {
			t.Errorf("%s: no kernel", v.Name)
		}
	}
	dup := append(append([]Variant{}, Variants...), Variants[0])
	bad := Variants[0]
	bad.Name, bad.ISA = "x", ISA("sse")
	none := Variants[0]
	none.Name, none.Pairs = "y", []Pair{{dtype.F32, dtype.Invalid}}
	none.Ops = []Op{Dense}
	site := Variants[0]
	site.Rules = []Rule{{Ops: []Op{Dense}, Site: "middle", Words: "w", Body: "b"}}
	wrongOp := Variants[0]
	wrongOp.Rules = []Rule{{Ops: []Op{AvgPool}, Site: SiteEntry, Words: "w", Body: "b"}}
	noRule := Variants[0]
	noRule.Rules = nil
	for name, vs := range map[string][]Variant{"duplicate": dup, "unknown ISA": {bad}, "no kernel": {none},
		"unknown site": {site}, "op outside the variant": {wrongOp}, "dispatched kernel without rule": {noRule}} {
		if ValidateVariants(vs, Rows) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := VariantsOf(Kernel{Dense, dtype.S8, dtype.S8, dtype.S8}); strings.Join(got, " ") != "s8s8_mladav_helium s8s8_smlad_dsp s8s8_mla_v7m s8s8_muls_v6m s8s8_rows3_portable" {
		t.Errorf("VariantsOf(dense s8 s8 s8) = %v", got)
	}
}

// TestPathsOf pins the dispatch order of two kernels: table order within a
// site, the rules that apply to the kernel's op and output type only.
func TestPathsOf(t *testing.T) {
	for _, c := range []struct {
		k    Kernel
		want string
	}{
		{Kernel{Conv2D, dtype.S8, dtype.S8, dtype.S8}, "decl:s8s8_mla_v7m decl:s8s8_muls_v6m entry:s8s8_mladav_helium entry:s8s8_smlad_dsp " +
			"entry:s8s8_mla_v7m entry:s8s8_muls_v6m pixel:s8s8_mla_v7m pixel:s8s8_muls_v6m pixel:s8s8_gather_portable"},
		{Kernel{Conv2D, dtype.S8, dtype.S8, dtype.S1}, "entry:s8s8_mladav_helium entry:s8s8_smlad_dsp pixel:s8s8_gather_portable"},
		{Kernel{PWConv2D, dtype.S1, dtype.S1, dtype.S1}, "decl:s1s1_binrows_dsp entry:s1s1_rows4_helium s1setup:s1s1_px4_dsp s1setup:s1s1_binrows_dsp " +
			"pixel:s1s1_gather_portable gathered:s1s1_binrows_dsp gathered:s1s1_binrows_dsp"},
	} {
		bySite := map[Site][]string{}
		for _, p := range PathsOf(c.k) {
			bySite[p.Site] = append(bySite[p.Site], string(p.Site)+":"+p.Variant)
		}
		var got []string
		for _, s := range Sites {
			got = append(got, bySite[s]...)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("PathsOf(%s) = %s, want %s", c.k.Name(), g, c.want)
		}
	}
}
