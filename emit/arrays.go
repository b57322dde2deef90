// Constant data arrays (NAME_data.c) and the C spelling of their values.

package emit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

func (e *emitter) addArray(ct, base string, lines []string, n int, comment string) string {
	name := fmt.Sprintf("%s_%s", e.m.Name, base)
	e.m.Data = append(e.m.Data, Array{CType: ct, Name: name, Len: n, Lines: lines, Comment: comment, Node: e.node})
	return name
}

func (e *emitter) floatArray(base string, v []float32, comment string) string {
	if v == nil {
		return "NULL"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cFloat(x)
		if math.IsInf(float64(x), 0) {
			e.m.NeedMath = true
		}
	}
	return e.addArray("float", base, wrap(s, 6), len(v), comment)
}

func (e *emitter) intArray(base string, v []int32, comment string) string {
	if v == nil {
		return "NULL"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cInt(x)
	}
	return e.addArray("int32_t", base, wrap(s, 10), len(v), comment)
}

func (e *emitter) wordArray(base string, w []uint32, comment string) string {
	s := make([]string, len(w))
	for i, x := range w {
		s[i] = fmt.Sprintf("0x%08xu", x)
	}
	return e.addArray("uint32_t", base, wrap(s, 6), len(w), comment)
}

func wrap(s []string, per int) []string {
	var lines []string
	for i := 0; i < len(s); i += per {
		j := min(i+per, len(s))
		lines = append(lines, strings.Join(s[i:j], ", ")+",")
	}
	return lines
}

// cFloat prints a float32 so that a C compiler reads back the same value.
func cFloat(x float32) string {
	switch {
	case math.IsInf(float64(x), 1):
		return "INFINITY"
	case math.IsInf(float64(x), -1):
		return "(-INFINITY)"
	}
	s := strconv.FormatFloat(float64(x), 'e', -1, 32)
	return s + "f"
}

func cInt(x int32) string {
	if x == math.MinInt32 {
		return "(-2147483647 - 1)"
	}
	return strconv.Itoa(int(x))
}

func itoa(i int) string { return strconv.Itoa(i) }

func sizeOfC(ct string) int {
	if ct == "int8_t" {
		return 1
	}
	return 4
}
