// Package textfmt holds the few rules every dqnn text report follows, so the
// commands print numbers and tables the same way: thousands separators in
// counts, and no trailing spaces on any line.
package textfmt

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Group prints n with thousands separators: 1063057 -> "1,063,057".
func Group[T ~int | ~int64 | ~uint64 | ~int32](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Table collects tab-separated cells (every cell ends with a tab, as
// text/tabwriter wants) and writes them right-aligned with two spaces
// between columns and no trailing spaces.
type Table struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

// NewTable starts a right-aligned table.
func NewTable() *Table {
	t := &Table{}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	return t
}

// Row adds one row; cells are formatted with %v.
func (t *Table) Row(cells ...any) {
	for _, c := range cells {
		fmt.Fprintf(t.tw, "%v\t", c)
	}
	fmt.Fprintln(t.tw)
}

// WriteTo writes the aligned table to w with trailing spaces removed.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	t.tw.Flush()
	return WriteTrimmed(w, t.buf.String())
}

// WriteTrimmed writes text to w with the spaces at the end of every line
// removed (tabwriter pads the last column).
func WriteTrimmed(w io.Writer, text string) (int64, error) {
	var n int64
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(strings.TrimSuffix(line, "\n"), " ")
		if strings.HasSuffix(line, "\n") {
			trimmed += "\n"
		}
		k, err := io.WriteString(w, trimmed)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
