// Constant data arrays (NAME_data.c).

package emit

import (
	"fmt"
	"math"
	"strings"

	"github.com/dqnn/dqnn/gen/cparams"
)

// addArray adds a const array of the node being emitted and returns its C
// name (derived from Options.Name and base).
func (e *emitter) addArray(ct, base string, lines []string, n int, comment string) string {
	name := fmt.Sprintf("%s_%s", e.m.Name, base)
	e.m.Data = append(e.m.Data, Array{CType: ct, Name: name, Len: n, Lines: lines, Comment: comment, Node: e.node})
	return name
}

// floatArray adds v as a float array; nil adds nothing and returns "" (a
// NULL pointer field of cparams).
func (e *emitter) floatArray(base string, v []float32, comment string) string {
	if v == nil {
		return ""
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cparams.Float(x)
		if math.IsInf(float64(x), 0) {
			e.m.NeedMath = true
		}
	}
	return e.addArray("float", base, wrap(s, 6), len(v), comment)
}

// intArray adds v as an int32_t array; nil adds nothing and returns "".
func (e *emitter) intArray(base string, v []int32, comment string) string {
	if v == nil {
		return ""
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cparams.Int(x)
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

func sizeOfC(ct string) int {
	if ct == "int8_t" {
		return 1
	}
	return 4
}
