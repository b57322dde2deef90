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
	// SiteEntry: after the checks, before any portable loop; a path taken
	// computes the whole call and returns (unless its body declines), or,
	// the M0/M3 convolutions, computes the interior positions and marks
	// them for the portable loop to skip.
	SiteEntry Site = "entry"
	// SiteS1Setup: in the s1 x s1 convolutions, after the sizes of the
	// portable gather path are computed (conv/s1s1_setup); a path taken
	// finishes the call.
	SiteS1Setup Site = "s1setup"
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
var Sites = []Site{SiteEntry, SiteS1Setup, SiteRows, SiteRows8}

// Rule is when a variant's path runs in a kernel: compiled in when the
// variant's ISA macro (DQ_ISA_<NAME>, none for portable paths) and Pre
// hold, taken at run time when Shape holds. Body is the template of the
// path's code, rendered inside the dispatch block with the kernel's data
// (no #if or shape test of its own).
type Rule struct {
	Ops   []Op          // the ops it applies to; nil: every op of the variant
	Outs  []dtype.DType // the output types it applies to; nil: every one the variant takes
	Site  Site
	Pre   string // preprocessor condition besides the ISA macro, "" if none
	Shape string // C condition over the entry function's parameters and locals, "" for every shape
	Words string // the rule in words (docs/kernels.md), including any run-time decline inside the body
	Body  string // template name of the path's code
}

// Cond returns the complete preprocessor condition of r as a path of
// variant v ("" when the path is always compiled in).
func (r Rule) Cond(v Variant) string {
	var parts []string
	if isa, ok := ISAOf(v.ISA); ok && isa.Cond != "" {
		parts = append(parts, "defined("+isa.Macro()+")")
	}
	if r.Pre != "" {
		parts = append(parts, r.Pre)
	}
	return strings.Join(parts, " && ")
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
				out = append(out, Path{Variant: v.Name, Rule: r, Cond: r.Cond(v)})
			}
		}
	}
	return out
}

// DispatchedOps lists the ops whose entry functions render their fast paths
// from the rules (the others still select them inside their templates).
var DispatchedOps = []Op{Dense}

// validateRules rejects a rule outside its variant's ops or output type,
// at an unknown site, or without words or body; and a variant of a
// dispatched op without a rule for one of its kernels.
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
		if r.Words == "" || r.Body == "" {
			return fmt.Errorf("variant %s rule %d: words and body are required", v.Name, i)
		}
	}
	for _, k := range v.Kernels(rows) {
		if !slices.Contains(DispatchedOps, k.Op) {
			continue
		}
		n := 0
		for _, r := range v.Rules {
			if r.applies(k) {
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("variant %s: no rule for kernel %s", v.Name, k.Name())
		}
	}
	return nil
}
