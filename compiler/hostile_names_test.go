package compiler_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/validate"
)

// hostilePieces are fragments that try to leave a C comment or string
// literal, or to smuggle a preprocessor line, a trigraph or a line splice.
var hostilePieces = []string{
	"*/", "/*", "//", "\n", "\r", "\\", "\"", "'", "??/", "??=", "??'", "?", "#", "#define run 0",
	" return 42; ", "\u00e9", "\u202e", "\U0001F600", "\x00", "\xff", "\t", "}", "{", ";", "\\\n",
	"relu1 */ return 42; /*",
}

// hostileName builds a random name of hostile pieces, sometimes 10,000
// characters long; the index keeps names unique, as Keras's are.
func hostileName(r *rand.Rand, i int) string {
	var b strings.Builder
	n := 1 + r.IntN(6)
	if r.IntN(8) == 0 {
		n = 2000
	}
	for range n {
		b.WriteString(hostilePieces[r.IntN(len(hostilePieces))])
	}
	if r.IntN(2) == 0 {
		b.WriteString(strings.Repeat("x", 10000-b.Len()%10000))
	}
	fmt.Fprintf(&b, "#%d", i)
	return b.String()
}

// renamed returns a copy of g with every node, tensor and source file
// renamed by name(i) (the graph's structure and weights are shared).
func renamed(g *ir.Graph, name func(i int) string) *ir.Graph {
	c := compiler.Clone(g)
	i := 0
	seen := map[*ir.Tensor]bool{}
	rename := func(t *ir.Tensor) {
		if !seen[t] {
			seen[t] = true
			t.Name = name(i)
			i++
		}
	}
	for _, t := range c.Inputs {
		rename(t)
	}
	for _, n := range c.Nodes {
		n.Name = name(i)
		i++
		for _, t := range n.Outputs {
			rename(t)
		}
	}
	c.Name = name(i)
	c.Files = nil
	for j, f := range g.Files {
		c.Files = append(c.Files, ir.File{Path: strings.ReplaceAll(name(i+1+j), "/", "|"), SHA256: f.SHA256})
	}
	return c
}

// TestHostileNamesChangeNothing is the property of issue #11: for random
// hostile names, (a) the generated C with comments and string-literal
// contents blanked (after trigraph replacement and line splicing, as a C99
// compiler reads it) equals the C generated for plain names, and (b) the
// libraries built with -Werror, traced or not, define and use the same
// symbols.
func TestHostileNamesChangeNothing(t *testing.T) {
	t.Parallel()
	var graphs []*ir.Graph
	for _, f := range []string{"testdata/models/k_branches.h5", "testdata/models/lq_pool_bn_sign.h5"} {
		g, err := keras.Load(filepath.Join(root, f), keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	seed := uint64(11)
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	for gi, g := range graphs {
		plain := renamed(g, func(i int) string { return fmt.Sprintf("n%d", i) })
		for _, am := range []bool{false, true} {
			want, err := compiler.Compile(plain, compiler.Options{Name: "m", Amalgamate: am})
			if err != nil {
				t.Fatal(err)
			}
			wantSyms := symbols(t, want.Files)
			for round := range 3 {
				names := map[int]string{}
				hostile := renamed(g, func(i int) string {
					if _, ok := names[i]; !ok {
						names[i] = hostileName(r, i)
					}
					return names[i]
				})
				got, err := compiler.Compile(hostile, compiler.Options{Name: "m", Amalgamate: am})
				if err != nil {
					t.Fatalf("graph %d round %d: %v", gi, round, err)
				}
				for f, w := range want.Files {
					gn, wn := normalizeC(string(got.Files[f])), normalizeC(string(w))
					if gn != wn {
						t.Errorf("graph %d round %d amalgamated=%v: %s differs from the plain-name C once comments and strings are blanked:\n%s", gi, round, am, f, firstDiff(wn, gn))
					}
				}
				if gs := symbols(t, got.Files); gs != wantSyms {
					t.Errorf("graph %d round %d amalgamated=%v: symbols differ:\n%s", gi, round, am, firstDiff(wantSyms, gs))
				}
				t.Logf("graph %d amalgamated=%v round %d: compared %d files and the symbols of their objects", gi, am, round, len(want.Files))
			}
		}
	}
}

// symbols compiles the model's .c files (the dq_* kernels are the same
// bytes whatever the names: the normalised comparison checks them) with
// gcc -std=c99 -Wall -Wextra -Werror (trigraphs on), with and without
// DQNN_TRACE, and returns nm's symbol table of the objects: names and
// kinds, addresses dropped, and without the assembler's local labels
// (.LC<n>, the string literals' pool, which the compiler numbers by
// content and merges when two literals are equal).
func symbols(t *testing.T, files map[string][]byte) string {
	t.Helper()
	testenv.NeedCmd(t, "gcc")
	dir := write(t, files)
	var out []string
	for _, trace := range []string{"-UDQNN_TRACE", "-DDQNN_TRACE"} {
		var cs []string
		for n := range files {
			if strings.HasSuffix(n, ".c") && !strings.HasPrefix(n, "dq_") {
				cs = append(cs, n)
			}
		}
		sort.Strings(cs)
		for _, c := range cs {
			obj := strings.TrimSuffix(c, ".c") + trace[1:] + ".o"
			cmd := exec.Command("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", trace, "-c", c, "-o", obj)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gcc %s %s: %v\n%s", trace, c, err, b)
			}
			cmd = exec.Command("nm", "--format=posix", obj)
			cmd.Dir = dir
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("nm %s: %v", obj, err)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				f := strings.Fields(l)
				if len(f) >= 2 && !strings.HasPrefix(f[0], ".") {
					out = append(out, obj+" "+f[0]+" "+f[1])
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

// normalizeC reads src as a C99 compiler's first phases do (trigraphs
// replaced, backslash-newline spliced) and blanks every comment and the
// contents of every string and character literal.
func normalizeC(src string) string {
	tri := strings.NewReplacer("??=", "#", "??(", "[", "??/", "\\", "??)", "]", "??'", "^", "??<", "{", "??!", "|", "??>", "}", "??-", "~")
	s := strings.ReplaceAll(tri.Replace(src), "\\\n", "")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteString(" \n")
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String() + "<unterminated comment>"
			}
			i += 2 + end + 1
			b.WriteByte(' ')
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			b.WriteByte(q)
			for i++; i < len(s) && s[i] != q; i++ {
				if s[i] == '\n' {
					return b.String() + "<newline in literal>"
				}
				if s[i] == '\\' {
					i++
				}
			}
			b.WriteByte(q)
		default:
			b.WriteByte(s[i])
		}
	}
	// Blank runs of spaces: comments become one space whatever their length.
	return strings.Join(strings.Fields(b.String()), " ")
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-200)
	return fmt.Sprintf("want ...%q\n got ...%q", a[lo:min(len(a), i+200)], b[lo:min(len(b), i+200)])
}

// TestInjectionCase is the case end to end: the QActivation of a
// .json model fixture renamed `relu1 */ return 42; /*` (and one with `??/`,
// quotes and backslashes) generates a library that compiles with -Werror
// (gcc, clang, arm-none-eabi-gcc, traced or not), computes what the reference interpreter
// computes, and traces the tensor under exactly its hostile name.
func TestInjectionCase(t *testing.T) {
	t.Parallel()
	testenv.NeedCmd(t, "gcc")
	src, err := os.ReadFile(filepath.Join(root, "testdata/models/qk_json_dense.json"))
	if err != nil {
		t.Fatal(err)
	}
	ins, shape, err := validate.ReadNPY(filepath.Join(root, "testdata/models/qk_json_dense.inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	samples := min(shape[0], 4)
	for _, evil := range []string{"relu1 */ return 42; /*", "x??/\n \"quoted\" \\ ??= #define"} {
		q, err := json.Marshal(evil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(src, []byte(`"q_activation"`)) {
			t.Fatal("fixture lost its q_activation layer")
		}
		dir := t.TempDir()
		model := filepath.Join(dir, "evil.json")
		if err := os.WriteFile(model, bytes.ReplaceAll(src, []byte(`"q_activation"`), q), 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := keras.Load(model, keras.Options{Weights: filepath.Join(root, "testdata/models/qk_json_dense_weights.h5")})
		if err != nil {
			t.Fatal(err)
		}
		res, err := compiler.Compile(g, compiler.Options{Name: "evil"})
		if err != nil {
			t.Fatal(err)
		}
		if c := string(res.Files["evil.c"]); strings.Contains(normalizeC(c), "42") || strings.Contains(c, "??") {
			t.Errorf("evil.c lets the name through as code:\n%s", c)
		}
		out := write(t, res.Files)
		ccCheck(t, out, "gcc")
		ccCheck(t, out, "clang", "-DDQNN_TRACE")
		ccCheck(t, out, "arm-none-eabi-gcc", append([]string{"-DDQNN_TRACE"}, m4...)...)
		got, tr := buildAndRun(t, out, "evil", g, [][]float32{ins}, samples, true)
		if _, ok := tr[evil]; !ok {
			var names []string
			for n := range tr {
				names = append(names, n)
			}
			t.Errorf("no tensor traced as %q; traced %q", evil, names)
		}
		n := ir.NumElements(g.Inputs[0].Shape)
		for s := range samples {
			want, err := interp.Run(g, [][]float32{ins[s*n : (s+1)*n]})
			if err != nil {
				t.Fatal(err)
			}
			m := len(want[0])
			for e := range m {
				if !close32(got[0][s*m+e], want[0][e], false) {
					t.Fatalf("sample %d element %d: C %v, interp %v", s, e, got[0][s*m+e], want[0][e])
				}
			}
			if s == 0 {
				compareTrace(t, res.Graph, g, [][]float32{ins[:n]}, tr)
			}
		}
	}
}
