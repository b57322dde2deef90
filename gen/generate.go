// Package gen holds dqnn's generators: gen/matrix (the kernel table),
// gen/render (templates and writing), gen/kernelgen (C kernels and their
// docs), gen/ref (the Go reference), gen/vectorgen and gen/vectors (test
// vectors) and gen/harness (compiling and running the vectors as C).
package gen

//go:generate go run ./cmd/dqnngen -root ..
