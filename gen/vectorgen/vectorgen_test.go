package vectorgen

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TestCommittedVectorsUpToDate regenerates the vectors in memory and fails
// when the committed file differs: run `go generate ./gen/...`.
func TestCommittedVectorsUpToDate(t *testing.T) {
	got, err := Generate(DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(Path)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./gen/...", Path)
	}
	// 8.28 MB before the edge-value vectors (docs/semantics.md) added 166 KB
	if len(got) > 9<<20 {
		t.Errorf("%s is %d bytes; keep it under 9 MB", Path, len(got))
	}
}

// TestEdgeCasesPresent checks that the drawn vectors really contain the
// edge cases the package promises.
func TestEdgeCasesPresent(t *testing.T) {
	cases, err := Cases(DefaultSeed, matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	var boundary, constant, flips, padValue, zeroPad, pooled, dil2, ties, negBN, zeroBN, sat int
	for _, c := range cases {
		if s := c.Stage; s != nil {
			if s.Flip != nil {
				flips++
			}
			for _, v := range s.ThrI {
				if v == -1<<31 || v == 1<<31-1 {
					constant++
				}
			}
			for _, v := range s.BNMul {
				if v < 0 {
					negBN++
				} else if v == 0 {
					zeroBN++
				}
			}
			if s.QMin == -120 {
				sat++
			}
			if s.OutInvScale == 1 {
				ties++
			}
		}
		if p := c.Conv; p != nil {
			if p.PadMode == 1 {
				padValue++
			} else if p.PadTop > 0 || p.PadLeft > 0 {
				zeroPad++
			}
			if p.PoolH == 2 {
				pooled++
			}
			if p.DilH == 2 {
				dil2++
			}
		}
		if c.Stage != nil && c.Stage.ThrI != nil && (c.Conv != nil || c.Dense != nil) {
			boundary++
		}
	}
	for name, n := range map[string]int{"s1 thresholds": boundary, "constant channels": constant, "flips": flips, "pad value": padValue,
		"zero padding": zeroPad, "fused pool": pooled, "dilation 2": dil2, "s8 ties": ties, "negative bn scale": negBN, "zero bn scale": zeroBN, "saturation": sat} {
		if n == 0 {
			t.Errorf("no case with %s", name)
		}
	}
}

// TestEdgeValueVectors checks that every kernel with float32 inputs has a
// vector whose inputs hold every value of EdgeValues (NaN, -0 included).
func TestEdgeValueVectors(t *testing.T) {
	cases, err := Cases(DefaultSeed, matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	bits := func(v float32) uint32 {
		if v != v {
			return 0x7fc00000 // any NaN
		}
		return math.Float32bits(v)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		seen := map[uint32]bool{}
		for _, in := range c.Inputs {
			for _, v := range in.F32 {
				seen[bits(v)] = true
			}
		}
		all := true
		for _, v := range EdgeValues {
			all = all && seen[bits(v)]
		}
		if all {
			covered[c.Kernel] = true
		}
	}
	n := 0
	for _, k := range matrix.Table {
		if k.In != dtype.F32 {
			continue
		}
		n++
		if !covered[k.Name()] {
			t.Errorf("%s: no vector has every edge value as input", k.Name())
		}
	}
	if n == 0 {
		t.Fatal("no kernel with float32 inputs")
	}
}
