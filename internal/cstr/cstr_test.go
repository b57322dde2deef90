package cstr

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
)

// hostile are names that tried to break out of their C context.
var hostile = []string{
	"",
	"relu1 */ return 42; /*",
	"a/*b*/c",
	"a // b",
	"line1\nline2\r\n#define X 1",
	`back\slash\`,
	"ends with star *",
	"*/",
	"/",
	`quote " and \"`,
	"??/\nint evil;",
	"???=??(??)??'??<??>??!??-??/",
	"#include <stdio.h>",
	"caf\u00e9 \u202e\u0645\U0001F600",
	"nul\x00byte",
	"\xff\xfe invalid utf-8 \xc3",
	"\\x41 looks escaped \\101",
	strings.Repeat("*/", 5000),
}

func TestCommentSafe(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		c := Comment(s)
		if err := checkComment(c); err != nil {
			t.Errorf("Comment(%q) = %q: %v", s, c, err)
		}
		back, err := UnComment(c)
		if err != nil || back != s {
			t.Errorf("UnComment(Comment(%q)) = %q, %v", s, back, err)
		}
	}
	if got := Comment("conv2d/kernel:0 (s8)"); got != "conv2d/kernel:0 (s8)" {
		t.Errorf("plain names must stay readable, got %q", got)
	}
}

func TestLiteralSafe(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		l := Literal(s)
		v, err := decodeLiteral(l)
		if err != nil || v != s {
			t.Errorf("Literal(%q) = %q decodes to %q, %v", s, l, v, err)
		}
	}
	if got := Literal("dense_1/BiasAdd"); got != `"dense_1/BiasAdd"` {
		t.Errorf("plain names must stay readable, got %s", got)
	}
}

func TestIsIdent(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"mnist": true, "m_l3_w": true, "A1": true, "": false, "1a": false, "_x": false, "__x": false,
		"a-b": false, "a b": false, "caf\u00e9": false, "a\n": false, strings.Repeat("a", MaxIdent): true, strings.Repeat("a", MaxIdent+1): false,
	} {
		if IsIdent(s) != want {
			t.Errorf("IsIdent(%q) = %v, want %v", s, !want, want)
		}
	}
}

// TestCompiled compiles the hostile names into comments and string literals
// of one C file with the strictest flags (trigraphs on, as in -std=c99),
// runs it and checks that every literal holds exactly the name's bytes and
// that no comment let code through.
func TestCompiled(t *testing.T) {
	t.Parallel()
	cc := testenv.NeedCmd(t, "gcc")
	var src bytes.Buffer
	src.WriteString("#include <stdio.h>\n#include <string.h>\nstatic int live = 0;\nint main(void) {\n  static const struct { const char *s; size_t n; } v[] = {\n")
	for _, s := range hostile {
		fmt.Fprintf(&src, "    /* %s */ // %s\n    { %s, sizeof(%s) - 1 },\n", Comment(s), Comment(s), Literal(s), Literal(s))
	}
	src.WriteString("  };\n  size_t i, j;\n  for (i = 0; i < sizeof v / sizeof v[0]; i++) {\n    for (j = 0; j < v[i].n; j++) printf(\"%02x\", (unsigned char)v[i].s[j]);\n    printf(\"\\n\");\n  }\n  return live;\n}\n")
	dir := t.TempDir()
	c := filepath.Join(dir, "t.c")
	if err := os.WriteFile(c, src.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "t")
	if out, err := exec.Command(cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(hostile) {
		t.Fatalf("%d lines for %d names", len(lines), len(hostile))
	}
	for i, s := range hostile {
		if want := fmt.Sprintf("%x", s); lines[i] != want {
			t.Errorf("literal of %q holds %s, want %s", s, lines[i], want)
		}
	}
}

// checkComment states what comment text must never contain.
func checkComment(c string) error {
	for i := 0; i < len(c); i++ {
		if c[i] < 0x20 || c[i] > 0x7e {
			return fmt.Errorf("byte 0x%02x at %d", c[i], i)
		}
	}
	for _, bad := range []string{"*/", "/*", "??"} {
		if strings.Contains(c, bad) {
			return fmt.Errorf("contains %q", bad)
		}
	}
	if strings.HasSuffix(c, `\`) {
		return fmt.Errorf("ends in a backslash")
	}
	return nil
}

// decodeLiteral is an independent reader of the C literal forms Literal
// may write; it refuses anything else (a newline, a bare quote, "??").
func decodeLiteral(l string) (string, error) {
	if len(l) < 2 || l[0] != '"' || l[len(l)-1] != '"' {
		return "", fmt.Errorf("not quoted")
	}
	body := l[1 : len(l)-1]
	if strings.Contains(body, "??") {
		return "", fmt.Errorf("trigraph introducer")
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c < 0x20 || c > 0x7e || c == '"':
			return "", fmt.Errorf("raw byte 0x%02x at %d", c, i)
		case c != '\\':
			b.WriteByte(c)
		case i+1 < len(body) && strings.IndexByte(`"\?`, body[i+1]) >= 0:
			b.WriteByte(body[i+1])
			i++
		case i+3 < len(body) && isOct(body[i+1]) && isOct(body[i+2]) && isOct(body[i+3]) && body[i+1] <= '3':
			b.WriteByte((body[i+1]-'0')<<6 | (body[i+2]-'0')<<3 | (body[i+3] - '0'))
			i += 3
		default:
			return "", fmt.Errorf("bad escape at %d", i)
		}
	}
	return b.String(), nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }
