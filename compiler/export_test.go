package compiler

import "github.com/dqnn/dqnn/ir"

// ConstBytes exposes constBytes to the external tests: the estimate, its
// range, and the estimate of each node of g.
func ConstBytes(g *ir.Graph) (est, lo, hi int, node []int, err error) {
	r, err := constBytes(g)
	return r.est, r.lo, r.hi, r.node, err
}
