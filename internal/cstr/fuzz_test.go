package cstr

import "testing"

// FuzzCEscape: for any bytes, Comment never yields a comment terminator or
// opener, a line break, a trigraph or a trailing backslash and round-trips;
// Literal yields a literal whose C value is exactly the input.
func FuzzCEscape(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Comment(s)
		if err := checkComment(c); err != nil {
			t.Fatalf("Comment(%q) = %q: %v", s, c, err)
		}
		if back, err := UnComment(c); err != nil || back != s {
			t.Fatalf("UnComment(Comment(%q)) = %q, %v", s, back, err)
		}
		l := Literal(s)
		if v, err := decodeLiteral(l); err != nil || v != s {
			t.Fatalf("Literal(%q) = %s decodes to %q, %v", s, l, v, err)
		}
	})
}
