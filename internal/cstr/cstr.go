// Package cstr holds the one escaping rule per C context for strings that
// come from a model file or a flag (layer and tensor names, file names) and
// reach generated C: comment text, string-literal text and identifiers.
// Names are escaped, never refused, so whatever Keras saved still compiles;
// nothing a name contains (comment delimiters, newlines, backslashes, quotes,
// trigraphs, '#', NUL, non-ASCII, any length) can change what the C
// compiles to. Identifiers are never copied from names: callers derive them
// (prefix + layer index) and check them with IsIdent.
package cstr

import (
	"fmt"
	"regexp"
	"strings"
)

const hexDigits = "0123456789abcdef"

// Comment returns s as text that is safe inside a C comment of either kind
// (/* ... */ or // to the end of the line). It writes printable ASCII as is
// and every other byte (control characters, newline, DEL, each byte of a
// non-ASCII character) as \xNN. So that no comment delimiter, line splice
// or trigraph can form, it also writes as \xNN: a backslash; a '/' after
// '*' or '*' after '/' (no "*/" nor "/*"); a '?' after '?' (no "??"
// trigraph introducer). The output is one line of printable ASCII that
// never ends in a backslash, and UnComment recovers s from it exactly.
func Comment(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		esc := c < 0x20 || c > 0x7e || c == '\\' ||
			(c == '/' && prev == '*') || (c == '*' && prev == '/') || (c == '?' && prev == '?')
		if esc {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			prev = 0 // the last byte written is a hex digit
			continue
		}
		b.WriteByte(c)
		prev = c
	}
	return b.String()
}

// UnComment inverts Comment.
func UnComment(t string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '\\' {
			b.WriteByte(t[i])
			continue
		}
		if i+3 >= len(t) || t[i+1] != 'x' {
			return "", fmt.Errorf("cstr: bad escape at byte %d of %q", i, t)
		}
		hi, lo := strings.IndexByte(hexDigits, t[i+2]), strings.IndexByte(hexDigits, t[i+3])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("cstr: bad escape at byte %d of %q", i, t)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 3
	}
	return b.String(), nil
}

// Literal returns s as a C string literal, quotes included, whose value is
// exactly the bytes of s. Printable ASCII is written as is except '"', '\'
// and '?' (written \", \\ and \?, so no trigraph can form); every other byte
// is a three-digit octal escape (\ooo: unlike \x, an octal escape ends after
// three digits whatever follows). A NUL in s is kept as \000, so the C
// string seen at run time ends there.
func Literal(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('\\')
			b.WriteByte('0' + c>>6)
			b.WriteByte('0' + c>>3&7)
			b.WriteByte('0' + c&7)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// identRE is the whole identifier grammar dqnn emits: ASCII letters, digits
// and '_', not starting with a digit nor with '_' (names starting with '_'
// and a capital or "__" are reserved for the implementation).
var identRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// MaxIdent bounds a derived identifier's length: C99 only promises 63
// significant characters for internal identifiers.
const MaxIdent = 63

// IsIdent reports whether s is an identifier dqnn may emit.
func IsIdent(s string) bool { return len(s) <= MaxIdent && identRE.MatchString(s) }
