// Command dqnngen regenerates dqnn's generated sources: the C kernels in
// kernels_c/ (one file per gen/matrix row plus dq_kernels.h, dq_types.h and
// the kernels' internal header dq_internal.h), docs/kernels.md
// and the Go test vectors gen/vectors/vectors_gen.go. It is run by
// `go generate ./...` (see gen/generate.go):
//
//	go run ./gen/cmd/dqnngen -root .
//
// Unchanged files are left alone; generated files (first line = the
// generated-code marker) that are no longer produced are deleted.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dqnn/dqnn/gen/kernelgen"
	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/gen/vectorgen"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "dqnngen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	files, err := kernelgen.Generate(matrix.Rows)
	if err != nil {
		return err
	}
	vec, err := vectorgen.Generate(vectorgen.DefaultSeed)
	if err != nil {
		return err
	}
	files[vectorgen.Path] = vec
	managed := map[string][]string{}
	for d, pats := range kernelgen.Managed {
		managed[d] = pats
	}
	written, deleted, err := render.Write(root, files, managed)
	for _, p := range written {
		fmt.Println("wrote", p)
	}
	for _, p := range deleted {
		fmt.Println("deleted", p)
	}
	return err
}
