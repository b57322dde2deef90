// Package dtype names the element types dqnn computes with and states, in one
// place, how each is stored in C: its C element type, its tag in kernel names
// and how its elements are packed.
//
// The s1 layout (shared by the kernels, the model emitter and the reference
// interpreter) follows §6.2 of the X-CUBE-AI DQNN reference and Larq Compute
// Engine's bitpack.h:
//
//   - elements are packed into uint32 words along the last (channel) axis;
//   - element i of a 32-element group is bit i of its word (LSB first);
//   - bit 1 encodes -1 (value < 0), bit 0 encodes +1 (value >= 0, so sign(0) = +1);
//   - a channel count that is not a multiple of 32 leaves the high bits of the
//     last word of every pixel set to 0 (padding), so xor+popcount of two
//     packed rows counts no padding bit.
package dtype

import "fmt"

// DType is an element type of a tensor, a weight or an accumulator.
type DType uint8

// The element types. The zero value is invalid so that a forgotten field is caught.
const (
	Invalid DType = iota
	F32           // IEEE-754 binary32
	S8            // signed 8-bit, affine: real = scale * (q - zero_point)
	S1            // binary ±1, packed 32 per uint32 word (see package doc)
	S32           // signed 32-bit: accumulators, integer thresholds, int8 biases
)

// Compute lists the types a kernel's input, weights and output can take.
var Compute = []DType{F32, S8, S1}

// Tag is the short name used in kernel names and reports ("f32", "s8", "s1", "s32").
func (t DType) Tag() string {
	switch t {
	case F32:
		return "f32"
	case S8:
		return "s8"
	case S1:
		return "s1"
	case S32:
		return "s32"
	}
	return "invalid"
}

func (t DType) String() string { return t.Tag() }

// CType is the C type of one storage element: a whole packed word for s1.
func (t DType) CType() string {
	switch t {
	case F32:
		return "float"
	case S8:
		return "int8_t"
	case S1:
		return "uint32_t"
	case S32:
		return "int32_t"
	}
	return "void"
}

// Bits is the number of bits one logical element occupies.
func (t DType) Bits() int {
	switch t {
	case F32, S32:
		return 32
	case S8:
		return 8
	case S1:
		return 1
	}
	return 0
}

// Valid reports whether t is one of the defined types.
func (t DType) Valid() bool { return t >= F32 && t <= S32 }

// Parse returns the type with the given tag.
func Parse(tag string) (DType, error) {
	for t := F32; t <= S32; t++ {
		if t.Tag() == tag {
			return t, nil
		}
	}
	return Invalid, fmt.Errorf("unknown data type %q (want f32, s8, s1 or s32)", tag)
}

// WordBits is the number of s1 elements in one packed word.
const WordBits = 32

// Words returns the number of uint32 words that hold n packed s1 elements.
func Words(n int) int { return (n + WordBits - 1) / WordBits }

// RowElems returns how many storage elements (C elements of CType) one row of
// n logical elements takes: n for f32/s8/s32, Words(n) for s1.
func (t DType) RowElems(n int) int {
	if t == S1 {
		return Words(n)
	}
	return n
}

// RowBytes returns the bytes one row of n logical elements takes in C.
func (t DType) RowBytes(n int) int {
	switch t {
	case S1:
		return 4 * Words(n)
	case S8:
		return n
	case F32, S32:
		return 4 * n
	}
	return 0
}

// Bytes returns the storage size of a tensor of this type with the given
// shape (channels last): the product of all but the last dimension times the
// row size of the last dimension.
func (t DType) Bytes(shape []int) int {
	if len(shape) == 0 {
		return t.RowBytes(1)
	}
	rows := 1
	for _, d := range shape[:len(shape)-1] {
		rows *= d
	}
	return rows * t.RowBytes(shape[len(shape)-1])
}
