// Amalgamation: dq_types.h, dq_internal.h and the used kernels inlined into
// NAME.c.

package emit

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/gen/render"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
)

var (
	reInclude = regexp.MustCompile(`(?m)^#include "dq_(types|kernels)\.h"\n`)
	// reInternal is a kernel's include of dq_internal.h: the first becomes
	// the header's body (after that kernel's ISA selection and pragmas, which
	// its helpers need), the others nothing.
	reInternal = regexp.MustCompile(`(?m)^#include "` + regexp.QuoteMeta(kernelsc.InternalHeader) + `"\n`)
	reSys      = regexp.MustCompile(`(?m)^#include <([a-z.]+)>\n`)
	reDef      = regexp.MustCompile(`(?m)^dq_status (dq_[a-z0-9_]+)\(`)
	reBuild    = regexp.MustCompile(`(?m)^//go:build ignore\n`)
)

// amalgamate inlines dq_types.h, dq_internal.h (once) and the used kernels
// (made static) into NAME.c.
func (e *emitter) amalgamate() error {
	th, err := fs.ReadFile(kernelsc.FS, "dq_types.h")
	if err != nil {
		return err
	}
	e.m.TypesH = strings.TrimPrefix(string(th), render.Marker+"\n")
	ih, err := fs.ReadFile(kernelsc.FS, kernelsc.InternalHeader)
	if err != nil {
		return err
	}
	internal := strings.TrimPrefix(string(ih), render.Marker+"\n")
	var b strings.Builder
	sys := map[string]bool{}
	strip := func(s string) string {
		s = reInclude.ReplaceAllString(s, "")
		return reSys.ReplaceAllStringFunc(s, func(l string) string {
			sys[l] = true
			return ""
		})
	}
	internal = strip(internal)
	for _, k := range e.m.Kernels {
		src, err := fs.ReadFile(kernelsc.FS, k+".c")
		if err != nil {
			return fmt.Errorf("emit: kernel library has no %s.c: %w", k, err)
		}
		s := string(src)
		s = strings.TrimPrefix(s, render.Marker+"\n")
		s = reBuild.ReplaceAllString(s, "")
		s = strip(s)
		s = reInternal.ReplaceAllStringFunc(s, func(string) string {
			h := internal
			internal = ""
			return h
		})
		s = reDef.ReplaceAllString(s, "static dq_status $1(")
		b.WriteString(s)
		b.WriteString("\n")
	}
	var incs []string
	for l := range sys {
		incs = append(incs, strings.TrimSpace(l))
	}
	sort.Strings(incs)
	e.m.KernelSrc = strings.Join(incs, "\n") + "\n\n" + b.String()
	return nil
}
