package kernelgen

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/render"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/templates"
)

// The repository root, from this package's directory.
const root = "../.."

// TestGenerateDeterministic renders twice and checks byte equality and the marker.
// TestInternalHeaderName: the emitter ships the header under the name the
// kernels include, which kernels_c declares for it.
func TestInternalHeaderName(t *testing.T) {
	if InternalHeader != kernelsc.InternalHeader {
		t.Errorf("kernelgen writes %q, kernels_c names %q", InternalHeader, kernelsc.InternalHeader)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(matrix.Rows)+4 {
		t.Errorf("got %d files, want %d kernels + dq_kernels.h + dq_types.h + dq_internal.h + docs", len(a), len(matrix.Rows))
	}
	for p, src := range a {
		if !bytes.Equal(src, b[p]) {
			t.Errorf("%s: output differs between two runs", p)
		}
		if !bytes.HasPrefix(src, []byte(render.Marker+"\n")) {
			t.Errorf("%s: first line is not the generated-code marker", p)
		}
		if bytes.Contains(src, []byte("<no value>")) || bytes.Contains(src, []byte("/work/")) {
			t.Errorf("%s: contains a missing value or an absolute path", p)
		}
	}
}

// TestCommittedUpToDate fails when a committed generated file differs from
// what the generator produces now, or a stale generated file remains: run
// `go generate ./gen/...`.
func TestCommittedUpToDate(t *testing.T) {
	files, err := Generate(matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Paths(files) {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./gen/...)", p, err)
			continue
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("%s is stale: run go generate ./gen/...", p)
		}
	}
	stale, err := render.Stale(root, files, Managed)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("stale generated files (run go generate ./gen/...): %s", strings.Join(stale, ", "))
	}
}

// TestValidateRejects checks that impossible rows are refused before anything is rendered.
func TestValidateRejects(t *testing.T) {
	bad := append([]matrix.Row(nil), matrix.Rows...)
	bad = append(bad, matrix.Row{Kernel: matrix.Kernel{Op: matrix.MaxPool, In: 1, Out: 2}, Covers: "x"})
	if _, err := Generate(bad); err == nil || !strings.Contains(err.Error(), "dq_maxpool_f32_s8") {
		t.Errorf("Generate with a maxpool f32->s8 row: err = %v, want an error naming the kernel", err)
	}
}

// maxTemplateLines bounds every template file (issue #17): a file that grows
// past it is split into a driver and per-core templates.
const maxTemplateLines = 600

// TestTemplateSize fails when a kernel or model template exceeds
// maxTemplateLines lines.
func TestTemplateSize(t *testing.T) {
	for _, fsys := range []fs.FS{templates.FS, templates.ModelFS} {
		n := 0
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
				return err
			}
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			n++
			if lines := bytes.Count(src, []byte("\n")); lines > maxTemplateLines {
				t.Errorf("templates/%s: %d lines, more than %d: split it", p, lines, maxTemplateLines)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Error("no template found")
		}
	}
}

// TestVariantSources ties gen/matrix.Variants to the code: every source a
// variant names exists, and every kernel of a variant marked Asm holds
// assembly (inline, or a dq_types.h or dq_internal.h helper written in it)
// next to its DQ_NO_ASM twin.
func TestVariantSources(t *testing.T) {
	files, err := Generate(matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	helpers := asmHelpers(files[KernelDir+"/"+InternalHeader])
	if len(helpers) == 0 {
		t.Fatalf("%s: no helper written in assembly found", InternalHeader)
	}
	asm := regexp.MustCompile(`__asm__|dq_xor_popcount|dq_bin_|\b(` + strings.Join(helpers, "|") + `)\(`)
	for _, v := range matrix.Variants {
		for _, s := range v.Sources {
			if strings.Contains(s, "/") {
				if _, err := os.Stat(filepath.Join(root, s)); err != nil {
					t.Errorf("%s: %v", v.Name, err)
				}
			} else if _, err := fs.Stat(templates.FS, "kernels/"+s); err != nil {
				t.Errorf("%s: %v", v.Name, err)
			}
		}
		if !v.Asm {
			continue
		}
		for _, k := range v.Kernels(matrix.Rows) {
			src := files[KernelDir+"/"+k.Name()+".c"]
			if !asm.Match(src) {
				t.Errorf("%s: kernel %s holds no assembly", v.Name, k.Name())
			}
		}
	}
}

// asmHelpers returns the names of the helpers of dq_internal.h (src) whose
// definition holds inline assembly: a definition runs from its line
// "static ... name(" to the next line "}".
func asmHelpers(src []byte) []string {
	def := regexp.MustCompile(`(?m)^(?:__attribute__\(\([^)]*\)\) )?static\b[^;{=]*?\b(dq_\w+)\(`)
	seen := map[string]bool{}
	var names []string
	for _, m := range def.FindAllSubmatchIndex(src, -1) {
		end := bytes.Index(src[m[1]:], []byte("\n}\n"))
		if end < 0 {
			continue
		}
		name := string(src[m[2]:m[3]])
		if bytes.Contains(src[m[0]:m[1]+end], []byte("__asm__")) && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// TestNoDefinedGuards fails when a kernel template guards a helper against a
// second definition (#ifndef DQ_..._DEFINED): a helper several kernels need is
// defined once, in dq_internal.h ("*/shared" blocks), never copied behind a
// guard (issue #17).
func TestNoDefinedGuards(t *testing.T) {
	guard := regexp.MustCompile(`(?m)^#(?:ifndef|define)\s+\w+_DEFINED\b`)
	n := 0
	err := fs.WalkDir(templates.FS, "kernels", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		n++
		for _, m := range guard.FindAll(src, -1) {
			t.Errorf("templates/%s: %s: define the helper once in dq_internal.h instead", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no kernel template found")
	}
}
