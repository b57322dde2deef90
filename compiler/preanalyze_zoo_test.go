package compiler_test

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/keras"
)

// zooJSONs lists the 20 zoo architectures, skipping (failing under CI)
// when the shared models are absent.
func zooJSONs(t testing.TB) []string {
	zooDir := sharedmodels.Require(t, "zoo-pr66")
	paths, _ := filepath.Glob(filepath.Join(zooDir, "*_models", "*.json"))
	if len(paths) != 20 {
		t.Fatalf("%d *.json under %s/*_models, want the 20 zoo architectures", len(paths), zooDir)
	}
	return paths
}

// TestPreAnalyzeZoo pre-analyzes every zoo architecture at its declared
// 224×224 input (no weights exist for them), then checks the pre-analyze
// against an analyze of the same architecture with synthetic weights
// (zooFill: about one batch-norm gamma in four negative) at the smallest
// input it accepts, as TestPreAnalyzeMatchesAnalyze does for real weights;
// that comparison (a few seconds per model: the synthetic weights are
// packed and emitted) runs on zooDefault, on all 20 with -zoo-all, on none
// with -short.
func TestPreAnalyzeZoo(t *testing.T) {
	t.Parallel()
	for _, p := range zooJSONs(t) {
		name := filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			g, err := keras.LoadArchitecture(p, keras.Options{})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			res, err := compiler.Compile(g, compiler.Options{})
			if err != nil {
				t.Fatalf("pre-analyze: %v", err)
			}
			r := res.Report
			if !r.WeightsAbsent || res.Files != nil || r.Params < 5_000_000 || r.MACC == 0 || len(r.Layers) == 0 {
				t.Fatalf("pre-analyze report: weights_absent %v, %d files, %d params, %d MACs, %d layers", r.WeightsAbsent, len(res.Files), r.Params, r.MACC, len(r.Layers))
			}
			t.Logf("224x224: %d params, %d MACs, ro %d B, rw %d B, %d C-layers, %d inexact, %d depend on weights (%v)",
				r.Params, r.MACC, r.WeightsROBytes, r.ActivationsRWBytes, len(r.Layers), len(r.Inexact), len(r.DependsOnWeights), time.Since(start).Round(time.Millisecond))
			fam := strings.TrimSuffix(filepath.Base(filepath.Dir(p)), "_models")
			if testing.Short() || !*zooAll && !slices.Contains(zooDefault, fam+"/"+strings.TrimSuffix(filepath.Base(p), ".json")) {
				return
			}
			// With synthetic weights at a small input.
			wg, hw, err := loadZoo(p)
			if err != nil {
				t.Fatalf("import with weights: %v", err)
			}
			want, err := compiler.Compile(wg, compiler.Options{})
			if err != nil {
				t.Fatalf("compile with weights (%dx%d): %v", hw, hw, err)
			}
			sg, err := keras.LoadArchitecture(p, keras.Options{InputShape: []int{hw, hw, 3}})
			if err != nil {
				t.Fatalf("import without weights (%dx%d): %v", hw, hw, err)
			}
			got, err := compiler.Compile(sg, compiler.Options{})
			if err != nil {
				t.Fatalf("pre-analyze (%dx%d): %v", hw, hw, err)
			}
			compareReports(t, want.Report, got.Report)
			if d := strings.Count(strings.Join(got.Report.ImporterNotes, "\n"), "architecture only"); d != 1 {
				t.Errorf("%d architecture-only notes, want 1", d)
			}
		})
	}
}

// largestZoo is the zoo architecture with the most parameters (Binary
// AlexNet, 61.8 M).
func largestZoo(t testing.TB) string {
	for _, p := range zooJSONs(t) {
		if filepath.Base(p) == "alexNet.json" {
			return p
		}
	}
	t.Fatal("alexNet.json is not in the zoo folder")
	return ""
}

func preAnalyze(t testing.TB, path string) *compiler.Report {
	g, err := keras.LoadArchitecture(path, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Report
}

// TestPreAnalyzeMemory checks that a pre-analyze does not materialise the
// weights: the bytes allocated for the largest zoo model stay far below
// the 4 bytes per parameter its float32 weights would take. (Not parallel:
// the allocation counter is process-wide.)
func TestPreAnalyzeMemory(t *testing.T) {
	p := largestZoo(t)
	preAnalyze(t, p) // warm up package-level state
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := preAnalyze(t, p)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := uint64(r.Params) * 4 / 20
	t.Logf("%s: %d params, pre-analyze allocated %d B (%.3f B per parameter)", filepath.Base(p), r.Params, alloc, float64(alloc)/float64(r.Params))
	if alloc > limit {
		t.Errorf("pre-analyze allocated %d B, more than %d B (a twentieth of the float32 weights)", alloc, limit)
	}
}

// BenchmarkPreAnalyzeLargest measures the pre-analyze (import + passes +
// report) of the largest zoo architecture at 224×224.
func BenchmarkPreAnalyzeLargest(b *testing.B) {
	p := largestZoo(b)
	b.ReportAllocs()
	for b.Loop() {
		preAnalyze(b, p)
	}
}
