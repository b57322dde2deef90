package tfckpt

import (
	"testing"
)

// The fuzz targets feed arbitrary bytes to every parser of untrusted input:
// none may panic, and whatever they accept must be self-consistent.
// Seeds: testdata/fuzz/<target>/ (cut from the fixtures and the real files).

func FuzzTable(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ents, err := readTable("fuzz.index", data)
		if err != nil {
			return
		}
		for i := 1; i < len(ents); i++ {
			if ents[i].key <= ents[i-1].key {
				t.Fatalf("accepted keys out of order: %q then %q", ents[i-1].key, ents[i].key)
			}
		}
	})
}

func FuzzIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const shardSize = 4096
		b, err := parseIndex("fuzz/variables", data, func(string) (int64, error) { return shardSize, nil })
		if err != nil {
			return
		}
		for _, k := range b.Keys() {
			e, _ := b.Entry(k)
			if !e.Sliced && (e.Offset < 0 || e.Size < 0 || e.Offset+e.Size > shardSize) {
				t.Fatalf("accepted entry %q outside its shard: %+v", k, e)
			}
		}
	})
}

func FuzzKerasMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := ParseKerasMetadata(data)
		if err == nil && len(objs) == 0 {
			t.Fatal("accepted metadata without objects")
		}
	})
}

func FuzzObjectGraph(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseObjectGraph(data)
		if err != nil {
			return
		}
		for i := range g.Nodes {
			for _, c := range g.Nodes[i].Children {
				if _, ok := g.Child(i, c.Name); !ok || c.Node >= len(g.Nodes) {
					t.Fatalf("node %d: child %+v unusable", i, c)
				}
			}
		}
	})
}

// FuzzBlock reaches the block decoder directly (FuzzTable's inputs rarely
// get past the block checksums).
func FuzzBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := tableReader{name: "fuzz.index", budget: 8*len(data) + 1<<10}
		total := 0
		_ = tr.blockEntries(data, "block", func(k string, v []byte) error {
			total += len(k)
			if total > 8*len(data)+1<<10 {
				t.Fatalf("keys add up to %d bytes from a %d-byte block", total, len(data))
			}
			return nil
		})
	})
}
