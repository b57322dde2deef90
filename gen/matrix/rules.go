package matrix

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dqnn/dqnn/ir/dtype"
)

// Site is where in a kernel's entry function a group of fast paths is
// dispatched (templates/kernels/dispatch.tmpl renders one block per site).
type Site string

// The dispatch sites. Within a site the paths are tried in table order
// (gen/matrix.Variants), the first compiled in whose shape holds wins.
const (
	// SiteDecl: the entry function's declarations; a path's body declares
	// the variables it needs there (no shape test, no block of its own).
	SiteDecl Site = "decl"
	// SiteEntry: after the checks, before any portable loop; a path taken
	// computes the whole call and returns (unless its body declines), or,
	// the M0/M3 convolutions, computes the interior positions and marks
	// them for the portable loop to skip.
	SiteEntry Site = "entry"
	// SiteS1Setup: in the s1 x s1 convolutions, after the sizes of the
	// portable gather path are computed (conv/s1s1_setup); a path taken
	// finishes the call.
	SiteS1Setup Site = "s1setup"
	// SitePixel: inside the convolutions' portable loop, once per output
	// pixel before its channels; a path taken computes the pixel and
	// continues with the next one (or skips it: computed at the entry).
	SitePixel Site = "pixel"
	// SiteGathered: inside the s1 x s1 gather path (s1s1_gather_portable),
	// once the pixel's taps are gathered into xs; a path taken computes the
	// pixel and continues with the next one.
	SiteGathered Site = "gathered"
	// SiteRows: after `o = 0;` in dense kernels; a path computes the leading
	// output channels and leaves o at the first one it did not compute,
	// the next path or the portable loop does the rest.
	SiteRows Site = "rows"
	// SiteRows8: inside the portable eight-channel loop of f32 x f32 dense,
	// after `c = 0;`; a path sums the leading inputs and leaves c at the
	// first one it did not sum.
	SiteRows8 Site = "rows8"
)

// Sites lists every dispatch site.
var Sites = []Site{SiteDecl, SiteEntry, SiteS1Setup, SitePixel, SiteGathered, SiteRows, SiteRows8}

// Rule is when a variant's path runs in a kernel: compiled in when the
// variant's ISA macro (DQ_ISA_<NAME>, none for portable paths) and Pre
// hold, taken at run time when Shape holds. Body is the template of the
// path's code, rendered inside the dispatch block with the kernel's data
// (no #if or shape test of its own).
type Rule struct {
	Ops   []Op          // the ops it applies to; nil: every op of the variant
	Outs  []dtype.DType // the output types it applies to; nil: every one the variant takes
	Site  Site
	Host  bool   // the body is plain C on the host too: compiled in where the ISA macro holds or the compiler does not target Arm
	Pre   string // preprocessor condition besides the ISA macro, "" if none
	Shape string // C condition over the entry function's parameters and locals ("$k": the kernel's name, its helpers' prefix), "" for every shape
	Words string // the rule in words (docs/kernels.md), including any run-time decline inside the body
	Body  string // template name of the path's code
}

// Cond returns the complete preprocessor condition of r as a path of
// variant v ("" when the path is always compiled in).
func (r Rule) Cond(v Variant) string {
	var parts []string
	if isa, ok := ISAOf(v.ISA); ok && isa.Cond != "" {
		if r.Host {
			parts = append(parts, "(defined("+isa.Macro()+") || !defined(__arm__))")
		} else {
			parts = append(parts, "defined("+isa.Macro()+")")
		}
	}
	if r.Pre != "" {
		parts = append(parts, r.Pre)
	}
	return strings.Join(parts, " && ")
}

// ruled reports whether k takes v by its rules: always for ops that do
// not dispatch from the rules and for nested variants.
func (v Variant) ruled(k Kernel) bool {
	if _, ok := Nested[v.Name]; ok || !slices.Contains(DispatchedOps, k.Op) {
		return true
	}
	for _, r := range v.Rules {
		if r.applies(k) {
			return true
		}
	}
	return false
}

// applies reports whether r is a rule of kernel k.
func (r Rule) applies(k Kernel) bool {
	return (r.Ops == nil || slices.Contains(r.Ops, k.Op)) && (r.Outs == nil || slices.Contains(r.Outs, k.Out))
}

// Path is one fast path of one kernel: a variant's rule.
type Path struct {
	Variant string
	Rule
	Cond string // Rule.Cond of the variant
}

// PathsOf returns the fast paths of kernel k, in dispatch order (table
// order, then rule order within a variant).
func PathsOf(k Kernel) []Path {
	var out []Path
	for _, v := range Variants {
		if !v.covers(k) {
			continue
		}
		for _, r := range v.Rules {
			if r.applies(k) {
				r.Shape = strings.ReplaceAll(r.Shape, "$k", k.Name())
				out = append(out, Path{Variant: v.Name, Rule: r, Cond: r.Cond(v)})
			}
		}
	}
	return out
}

// DispatchedOps lists the ops whose entry functions render their fast paths
// from the rules and select nothing outside them.
var DispatchedOps = []Op{Dense, Conv2D, PWConv2D, DWConv2D}

// Nested names the variants selected inside another path's body, by
// shape or by a macro of their own, rather than by a dispatch block: the
// path whose body holds them (a variant of the table). They have no rules.
var Nested = map[string]string{
	"f32s1_rowsums_vfp":       "f32s1_rows_portable",  // 3x3 stride 1, 2x2/2 pool, s1 output: the VFP assembly of the channel loop
	"f32s1_rowsums_heliumf":   "f32s1_rows_portable",  // the same shapes, inputs in the range the body checks
	"f32s1_smallstack_nosimd": "f32s1_rows_portable",  // DQ_SMALL_STACK: the signs as 9-bit masks
	"s1s1_smallstack_nosimd":  "s1s1_gather_portable", // DQ_SMALL_STACK: DQ_GATHER_WORDS 96 instead of 512
	"f32s8_rows4_heliumf":     "f32s8_block_vfp",      // DQ_F32S8_MVE, blocks of a multiple of 4 channels without batch norm
}

// validateRules rejects a rule outside its variant's ops or output type,
// at an unknown site, or without words or body; and a variant of a
// dispatched op without a rule for that op, unless Nested names the path
// that selects it. (Which output types take it is the rules' Outs: for a
// dispatched op, a kernel takes a variant when one of its rules applies.)
func validateRules(v Variant, rows []Row) error {
	for i, r := range v.Rules {
		for _, op := range r.Ops {
			if !slices.Contains(v.Ops, op) {
				return fmt.Errorf("variant %s rule %d: op %s is not one of the variant's", v.Name, i, op)
			}
		}
		for _, out := range r.Outs {
			if v.Out != dtype.Invalid && out != v.Out {
				return fmt.Errorf("variant %s rule %d: output %s, the variant's is %s", v.Name, i, out, v.Out)
			}
		}
		if !slices.Contains(Sites, r.Site) {
			return fmt.Errorf("variant %s rule %d: unknown site %q", v.Name, i, r.Site)
		}
		if r.Site == SiteDecl && r.Shape != "" {
			return fmt.Errorf("variant %s rule %d: declarations take no shape test", v.Name, i)
		}
		if r.Words == "" || r.Body == "" {
			return fmt.Errorf("variant %s rule %d: words and body are required", v.Name, i)
		}
	}
	if _, ok := Nested[v.Name]; ok {
		if len(v.Rules) > 0 {
			return fmt.Errorf("variant %s: nested in %s and rules of its own", v.Name, Nested[v.Name])
		}
		return nil
	}
	for _, op := range v.Ops {
		if !slices.Contains(DispatchedOps, op) {
			continue
		}
		n := 0
		for _, r := range v.Rules {
			if r.Ops == nil || slices.Contains(r.Ops, op) {
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("variant %s: no rule for op %s", v.Name, op)
		}
	}
	return nil
}
