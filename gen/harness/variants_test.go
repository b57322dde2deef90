package harness

import (
	"slices"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/gen/vectors"
	"github.com/dqnn/dqnn/target"
)

// variantRun is one build of TestVectorsVariants: a core and the ISAs
// (gen/matrix.ISAs) turned off with DQ_DISABLE_<NAME>, so that the paths
// of the next variant, or the portable loops, take the shapes the disabled
// ones took.
type variantRun struct {
	name     string
	cpu      target.CPU
	disabled []matrix.ISA
}

// variantRuns name what each build exercises beyond TestVectorsCortexM
// (which runs every core's own variants): the M4 variants on M55, the
// portable loops with arm-none-eabi-gcc on M4 and M55, and FMA/VFP alone on M4.
var variantRuns = []variantRun{
	{"dsp+fma+vfp on m55", target.CortexM55, []matrix.ISA{matrix.Helium, matrix.HeliumF}},
	{"portable on m55", target.CortexM55, []matrix.ISA{matrix.Helium, matrix.HeliumF, matrix.DSP, matrix.FMA, matrix.VFP}},
	{"portable on m4", target.CortexM4, []matrix.ISA{matrix.DSP, matrix.FMA, matrix.VFP}},
	{"fma+vfp on m4", target.CortexM4, []matrix.ISA{matrix.DSP}},
}

// TestVectorsVariants runs the vectors of every kernel that has a variant
// (gen/matrix.VariantsOf) under each variantRun, 60 cases per QEMU boot.
func TestVectorsVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("short: QEMU run skipped")
	}
	var cases []*ref.Case
	for _, c := range vectors.Cases {
		if k, ok := matrix.ByName(c.Kernel); ok && len(matrix.VariantsOf(k)) > 0 {
			cases = append(cases, c)
		}
	}
	for _, r := range variantRuns {
		t.Run(strings.ReplaceAll(r.name, " ", "_"), func(t *testing.T) {
			flags := slices.Clone(defaultARMFlags)
			for _, isa := range r.disabled {
				info, ok := matrix.ISAOf(isa)
				if !ok || info.Cond == "" {
					t.Fatalf("%s: ISA %q has no selection macro", r.name, isa)
				}
				flags = append(flags, "-D"+info.Disable())
			}
			if n := runVectors(t, cases, r.cpu, armToolchain(r.cpu, flags...), 60, 400<<10, 2); n == 0 && !t.Skipped() && !t.Failed() {
				t.Error("no case ran")
			}
		})
	}
}
