package compiler

import (
	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Table adapts gen/matrix (the single source of truth for which kernels
// exist) to the passes' Matrix interface.
type Table struct{}

// Find returns the name of the matrix kernel for op and the given types.
func (Table) Find(op ir.KernelKind, in, w, out dtype.DType) (string, bool) {
	k, ok := matrix.Find(matrix.Op(op), in, w, out)
	if !ok {
		return "", false
	}
	return k.Name(), true
}

// ReferenceOnly is the subset of gen/matrix that mirrors the X-CUBE-AI
// reference tool's tables (6.3–6.5) plus the conversions and f32 kernels
// any model needs; it shows what the reference would fall back on.
type ReferenceOnly struct{}

// Find is Table.Find restricted to rows that mirror the reference, f32
// kernels and conversions.
func (ReferenceOnly) Find(op ir.KernelKind, in, w, out dtype.DType) (string, bool) {
	k, ok := matrix.Find(matrix.Op(op), in, w, out)
	if !ok {
		return "", false
	}
	r, _ := matrix.RowOf(k)
	allF32 := in == dtype.F32 && out == dtype.F32 && (w == dtype.F32 || w == dtype.Invalid)
	if !r.MirrorsReference() && !allF32 && k.Op != matrix.Convert {
		return "", false
	}
	return k.Name(), true
}
