package compiler

import "github.com/dqnn/dqnn/ir"

// ConstBytes exposes constBytes to the external tests.
func ConstBytes(g *ir.Graph) (est, lo, hi int, err error) {
	r, err := constBytes(g)
	return r.est, r.lo, r.hi, err
}
