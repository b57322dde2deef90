package kernelgen

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/templates"
)

// TestDispatchOnly fails when a kernel of an op that dispatches from
// gen/matrix's rules selects a path outside kernels/dispatch: rendered with
// no paths, its entry function must hold no preprocessor line at all (no
// ISA, compiler or assembly macro test of its own).
func TestDispatchOnly(t *testing.T) {
	tmpl, err := render.Load(templates.FS, "kernels/*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range matrix.Rows {
		if !slices.Contains(matrix.DispatchedOps, r.Op) {
			continue
		}
		d := dataOf(r)
		d.Paths = nil
		src, err := render.Execute(tmpl, d.Template, d)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		i := strings.Index(string(src), d.Proto+" {")
		if i < 0 {
			t.Fatalf("%s: entry function not found", d.Name)
		}
		for _, l := range strings.Split(string(src[i:]), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				t.Errorf("%s: entry function selects outside the dispatch: %s", d.Name, strings.TrimSpace(l))
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no kernel of a dispatched op")
	}
}

var variantMark = regexp.MustCompile(`/\* variant (\S+), site (\S+) \*/`)

// TestDispatchPaths checks that every kernel file holds exactly the paths
// of gen/matrix.PathsOf, site by site in that order, each under its rule's
// condition and shape test: a variant's path appears in the kernels it
// covers and nowhere else.
func TestDispatchPaths(t *testing.T) {
	files, err := Generate(matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range matrix.Rows {
		src := string(files[KernelDir+"/"+r.Name()+".c"])
		got, want := map[string][]string{}, map[string][]string{}
		for _, m := range variantMark.FindAllStringSubmatch(src, -1) {
			got[m[2]] = append(got[m[2]], m[1])
		}
		paths := matrix.PathsOf(r.Kernel)
		for _, p := range paths {
			want[string(p.Site)] = append(want[string(p.Site)], p.Variant)
			seen[p.Variant]++
		}
		for _, site := range matrix.Sites {
			if !slices.Equal(got[string(site)], want[string(site)]) {
				t.Errorf("%s: site %s: paths %v, want %v", r.Name(), site, got[string(site)], want[string(site)])
			}
		}
		flat := stripIndent(src)
		for _, p := range paths {
			head := "/* variant " + p.Variant + ", site " + string(p.Site) + " */\n"
			if p.Cond != "" {
				head += "#if " + p.Cond + "\n"
			}
			if p.Site != matrix.SiteDecl {
				if p.Shape != "" {
					head += "if (" + p.Shape + ") {"
				} else {
					head += "{"
				}
			}
			if !strings.Contains(flat, head) {
				t.Errorf("%s: path %s not rendered as %q", r.Name(), p.Variant, head)
			}
		}
	}
	for _, v := range matrix.Variants {
		if len(v.Rules) > 0 && seen[v.Name] == 0 {
			t.Errorf("variant %s: rules but no kernel renders them", v.Name)
		}
	}
}

// stripIndent removes the leading blanks of every line.
func stripIndent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, " ")
	}
	return strings.Join(lines, "\n")
}
