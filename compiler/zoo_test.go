package compiler_test

import (
	"flag"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
)

// zooFill returns deterministic synthetic weights keyed by layer and weight
// name: latent kernels uniform in [-1, 1], small biases, batch-norm
// statistics with positive variance and about one gamma in four negative
// (flipped thresholds), so every lowering path of the real topologies runs.
func zooFill(layer, weight string, shape []int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(layer + "/" + weight))
	r := rand.New(rand.NewPCG(h.Sum64(), 66))
	v := make([]float32, ir.NumElements(shape))
	for i := range v {
		u := float32(r.Float64()*2 - 1)
		switch weight {
		case "kernel", "depthwise_kernel":
			v[i] = u
		case "bias":
			v[i] = 0.1 * u
		case "gamma":
			v[i] = 0.5 + 0.5*float32(r.Float64())
			if r.IntN(4) == 0 {
				v[i] = -v[i]
			}
		case "beta", "moving_mean":
			v[i] = 0.5 * u
		case "moving_variance":
			v[i] = 0.25 + 2*float32(r.Float64())
		default:
			v[i] = u
		}
	}
	return v
}

// loadZoo imports a zoo architecture with synthetic weights at the
// smallest square input (of a few candidates) its layers accept.
func loadZoo(path string) (*ir.Graph, int, error) {
	var first error
	for _, hw := range []int{32, 48, 64, 96, 128} {
		g, err := keras.LoadArchitecture(path, keras.Options{Fill: zooFill, InputShape: []int{hw, hw, 3}})
		if err == nil {
			return g, hw, nil
		}
		if first == nil {
			first = err
		}
		if !strings.Contains(err.Error(), "smaller than") {
			break
		}
	}
	return nil, 0, first
}

var zooAll = flag.Bool("zoo-all", false, "TestZoo: run all 20 zoo architectures (about 30 s each on a loaded 2-core machine)")

// zooDefault are the architectures TestZoo runs without -zoo-all (about
// 15 s each): one per distinct construct (QKeras QConv2D/QActivation + Add,
// MagnitudeAwareSign Bi-Real blocks, QuickNet's Keras and Larq depthwise
// layers; DenseNet's s1 concatenations are in TestTopologies); -short keeps
// the first.
var zooDefault = []string{"qkeras/binary_resnet_e18", "larq/biRealNet", "larq/quickNet_small_small"}

// TestZoo imports every zoo architecture (Larq and QKeras translations of
// QuickNet, BiRealNet, Binary AlexNet, Binary DenseNet E28/E37/E37-dilated/
// E45, Binary ResNet-E18), fills deterministic random weights, shrinks the
// input from 224×224 to the smallest size the architecture allows, compiles
// it, builds the C library on the host and compares it with the
// interpreter on random inputs: s1/s8 intermediates bit-exact, f32 within
// tolerance (for models whose lowering is reported inexact, to within 1e-4
// of the tensor's largest magnitude). Without -zoo-all it runs zooDefault
// (each model costs seconds of gcc time for its megabytes of constants).
func TestZoo(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the zoo's builds run in the full suite")
	}
	// The Larq/QKeras zoo architectures of google/qkeras PR #66
	// (architecture JSON only, no weights).
	zooDir := sharedmodels.Require(t, "zoo-pr66")
	testenv.NeedCmd(t, "gcc")
	paths, _ := filepath.Glob(filepath.Join(zooDir, "*_models", "*.json"))
	if len(paths) == 0 {
		t.Fatalf("no *.json under %s/*_models", zooDir)
	}
	for i, p := range paths {
		fam := strings.TrimSuffix(filepath.Base(filepath.Dir(p)), "_models")
		stem := strings.TrimSuffix(filepath.Base(p), ".json")
		sel := zooDefault
		if testing.Short() {
			sel = sel[:1]
		}
		if !*zooAll && !slices.Contains(sel, fam+"/"+stem) {
			continue
		}
		t.Run(fam+"/"+stem, func(t *testing.T) {
			start := time.Now()
			g, hw, err := loadZoo(p)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			name := compiler.CName(fam + "_" + stem)
			res, err := compiler.Compile(g, compiler.Options{Name: name, Amalgamate: i%2 == 1})
			if err != nil {
				t.Fatalf("compile (%dx%d input): %v", hw, hw, err)
			}
			const samples = 2
			r := rand.New(rand.NewPCG(uint64(i), 7))
			n := ir.NumElements(g.Inputs[0].Shape)
			x := make([]float32, n*samples)
			for k := range x {
				x[k] = float32(r.Float64()*2 - 1)
			}
			dir := t.TempDir()
			for fn, b := range res.Files {
				os.WriteFile(filepath.Join(dir, fn), b, 0o644)
			}
			got, tr := buildAndRun(t, dir, name, g, [][]float32{x}, samples, true)
			exact := g.Outputs[0].Quant.DType != dtype.F32
			rel := 0.0
			if len(res.Report.Inexact) > 0 {
				rel = 1e-4
			}
			for s := 0; s < samples; s++ {
				in := [][]float32{x[s*n : (s+1)*n]}
				want, err := interp.Run(g, in)
				if err != nil {
					t.Fatalf("interp: %v", err)
				}
				m := len(want[0])
				for e := 0; e < m; e++ {
					if rel > 0 && math.Abs(float64(got[0][s*m+e]-want[0][e])) <= rel*maxAbs(want[0])+1e-6 {
						continue
					}
					if !close32(got[0][s*m+e], want[0][e], exact) {
						t.Errorf("sample %d element %d: C %v, interp %v (exact=%v)", s, e, got[0][s*m+e], want[0][e], exact)
						break
					}
				}
				if s == 0 {
					compareTraceTol(t, res.Graph, g, in, tr, rel)
				}
			}
			t.Logf("%dx%d input, %d nodes, %d kernel calls, %d inexact, %v", hw, hw, len(g.Nodes), len(res.Graph.Nodes), len(res.Report.Inexact), time.Since(start).Round(time.Millisecond))
		})
	}
}
