package dtype

import "testing"

func TestTagsRoundTrip(t *testing.T) {
	for _, d := range []DType{F32, S8, S1, S32} {
		got, err := Parse(d.Tag())
		if err != nil || got != d {
			t.Errorf("Parse(%q) = %v, %v; want %v", d.Tag(), got, err, d)
		}
	}
	if _, err := Parse("u8"); err == nil {
		t.Error("Parse(u8) succeeded; want an error")
	}
	if Invalid.Valid() || !S32.Valid() {
		t.Error("Valid() is wrong at the ends of the range")
	}
}

func TestPackedSizes(t *testing.T) {
	cases := []struct {
		t     DType
		shape []int
		bytes int
	}{
		{S1, []int{13, 13, 32}, 13 * 13 * 4},
		{S1, []int{11, 11, 64}, 11 * 11 * 8},
		{S1, []int{5, 5, 33}, 5 * 5 * 8}, // 33 channels need two words per pixel
		{S1, []int{1}, 4},
		{S1, []int{576}, 72},
		{S8, []int{7, 3}, 21},
		{F32, []int{28, 28, 1}, 3136},
		{S32, []int{10}, 40},
	}
	for _, c := range cases {
		if got := c.t.Bytes(c.shape); got != c.bytes {
			t.Errorf("%v.Bytes(%v) = %d, want %d", c.t, c.shape, got, c.bytes)
		}
	}
	for n, w := range map[int]int{1: 1, 31: 1, 32: 1, 33: 2, 63: 2, 64: 2, 65: 3} {
		if Words(n) != w {
			t.Errorf("Words(%d) = %d, want %d", n, Words(n), w)
		}
	}
}
