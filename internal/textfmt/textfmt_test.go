package textfmt

import (
	"strings"
	"testing"
)

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 1063057: "1,063,057"} {
		if got := Group(n); got != want {
			t.Errorf("Group(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTableAlignsRightWithoutTrailingSpaces(t *testing.T) {
	tb := NewTable()
	tb.Row("layer", "instructions", "kernels")
	tb.Row("conv", Group(1063057), "")
	tb.Row("dense_with_a_long_name", Group(12), "dq_dense")
	var b strings.Builder
	tb.WriteTo(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing space in %q", l)
		}
	}
	// The instructions column ends at the same offset in every row.
	end := strings.Index(lines[0], "instructions") + len("instructions")
	if !strings.HasPrefix(lines[1][end-len("1,063,057"):], "1,063,057") || !strings.HasPrefix(lines[2][end-2:], "12") {
		t.Errorf("instructions column not right-aligned:\n%s", b.String())
	}
}
