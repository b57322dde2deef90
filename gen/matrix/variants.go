package matrix

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir/dtype"
)

// ISA is the instruction-set axis of the kernel table: the fast paths a
// kernel file holds besides its portable loops, each selected inside the
// file by the compiler's predefined macros (one generated library serves
// every core).
type ISA string

// The instruction sets, in documentation order.
const (
	Helium   ISA = "helium"   // Armv8.1-M MVE integer (M55)
	HeliumF  ISA = "heliumf"  // MVE floating point (M55)
	DSP      ISA = "dsp"      // Thumb-2 with the DSP extension (M4, M7, M33, M55)
	FMA      ISA = "fma"      // single-precision FMA on VFPv4/FPv5 (M4F, M7, M33, M55)
	VFP      ISA = "vfp"      // any VFP with Thumb-2
	Portable ISA = "portable" // C99 on every core
	V7M      ISA = "v7m"      // ARMv7-M without DSP (M3): Thumb-2, MLA
	V6M      ISA = "v6m"      // ARMv6-M (M0, M0+): 16-bit Thumb, MULS
	NoSIMD   ISA = "nosimd"   // ARMv6-M / ARMv7-M without FPU (M0, M0+, M3): portable C, small stack
)

// ISAInfo says when an ISA's paths are compiled in. Cond is the C
// condition on the compiler's predefined macros; dq_kernels.h turns it into
// DQ_ISA_<NAME> (unless DQ_DISABLE_<NAME> is defined), the one macro the
// kernels test. ISAs without Cond are not selected by a macro of their own.
type ISAInfo struct {
	ISA
	Macros string // the selecting condition, for the docs
	Cores  string // the cores that define it
	Cond   string // C condition, "" for portable and nosimd
}

// Macro returns the C macro that selects isa's paths ("DQ_ISA_DSP").
func (i ISAInfo) Macro() string { return "DQ_ISA_" + strings.ToUpper(string(i.ISA)) }

// Disable returns the C macro that turns isa's paths off ("DQ_DISABLE_DSP").
func (i ISAInfo) Disable() string { return "DQ_DISABLE_" + strings.ToUpper(string(i.ISA)) }

// ISAs lists every ISA in documentation order.
var ISAs = []ISAInfo{
	{Helium, "`__ARM_FEATURE_MVE`", "M55", "defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)"},
	{HeliumF, "`__ARM_FEATURE_MVE & 2`", "M55", "defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)"},
	{DSP, "`__thumb2__` + `__ARM_FEATURE_DSP`", "M4, M7, M33, M55", "defined(__ARM_FEATURE_DSP) && defined(__thumb2__)"},
	{FMA, "`__ARM_FEATURE_FMA` + VFP", "M4F, M7, M33, M55", "defined(__thumb2__) && defined(__ARM_FEATURE_FMA) && defined(__ARM_FP) && (__ARM_FP & 4)"},
	{VFP, "`__ARM_FP` + `__thumb2__`", "M4F, M7, M33, M55", "defined(__ARM_FP) && (__ARM_FP & 4) && defined(__thumb2__)"},
	{Portable, "none", "every core, the host", ""},
	{V7M, "`__ARM_ARCH_7M__` + `__thumb2__`", "M3", "defined(__ARM_ARCH_7M__) && defined(__thumb2__)"},
	{V6M, "`__ARM_ARCH_6M__`", "M0, M0+", "defined(__ARM_ARCH_6M__)"},
	{NoSIMD, "`DQ_SMALL_STACK` (M-profile without `__ARM_FP`)", "M0, M0+, M3", ""},
}

// Pair is the input x weights type pair of a variant.
type Pair struct{ In, W dtype.DType }

func (p Pair) String() string { return p.In.Tag() + " x " + p.W.Tag() }

// Variant is one fast path: an ISA, the kernels (ops x type pairs, every
// output type) that take it, and where its code lives. Asm marks paths with
// hand-written assembly, each block of which has a C twin selected by
// DQ_NO_ASM (the same sums on the same shapes).
type Variant struct {
	Name      string // role + types + ISA, unique
	ISA       ISA
	Ops       []Op
	Pairs     []Pair
	Scope     string // the kernels in words, when narrower than Ops x Pairs
	Technique string
	Sources   []string // templates (templates/kernels/) or kernels_c files
	Asm       bool
	Out       dtype.DType // the only output type that takes it; Invalid: every one
	Rules     []Rule      // when the path runs, per op (rules.go); empty for ops not yet dispatched from the table
}

var (
	s1s1   = []Pair{{dtype.S1, dtype.S1}}
	s8s8   = []Pair{{dtype.S8, dtype.S8}}
	s8s1   = []Pair{{dtype.S8, dtype.S1}}
	f32s1  = []Pair{{dtype.F32, dtype.S1}}
	mats   = []Op{Dense, Conv2D, PWConv2D}
	convs2 = []Op{Conv2D, PWConv2D}
)

// Variants is the variant table, written out row by row (docs/kernels.md's
// variant table is generated from it).
var Variants = []Variant{
	{"s1s1_rows4_helium", Helium, mats, s1s1, "",
		"four output channels per vector: gather of four weight rows, broadcast input, carry-save adder over three words (K = 9 or 18 words: one adder tree over nine), u8 SWAR popcount, vector threshold compare",
		[]string{"mve_s1.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Shape: "n_words <= DQ_MVE_S1_XB", Body: "mve_s1/dense",
				Words: "optimised builds, rows of at most 96 words (3,072 inputs)"},
			{Ops: []Op{Conv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Shape: "p->k_h * p->k_w * n_words <= DQ_MVE_S1_XB", Body: "mve_s1/conv",
				Words: "optimised builds, at most 96 tap words (k_h·k_w·in_c/32); a position with padded taps runs twice (taps +1, then -1)"},
			{Ops: []Op{PWConv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Shape: "n_words <= DQ_MVE_S1_XB", Body: "mve_s1/conv",
				Words: "optimised builds, at most 96 words per pixel"},
		}},
	{"s8s8_mladav_helium", Helium, mats, s8s8, "",
		"VMLADAVA.S8 (16 MACs per instruction), several rows and positions per pass, zero point by weight sums (the model's `w_sum` parameter, else summed per call), vector output stage with a scalar redo when MVE flushes a denormal",
		[]string{"mve_s8.tmpl", "mve_s8_os.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Body: "mve_s8/dense",
				Words: "optimised builds, every shape"},
			{Ops: convs2, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Body: "mve_s8/conv",
				Words: "optimised builds, every shape"},
		}},
	{"s8s1_addva_helium", Helium, mats, s8s1, "dense, pointwise, conv with in_c a multiple of 32 (other convs: the DSP path)",
		"no multiplies: a conv position's taps gathered into one row; each weight word's halves are the byte-lane predicates of 16 inputs, VADDVAT.S8 sums the inputs under set bits (four rows per pass share the input vectors), then acc = Σ(q − zp) − 2·(Σset − zp·popcount); vector output stage of mve_s8",
		[]string{"mve_s8s1.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Body: "mve_s8s1/dense",
				Words: "optimised builds, every shape"},
			{Ops: []Op{Conv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Shape: "n % 32 == 0 && p->k_h * p->k_w * n <= 2048", Body: "mve_s8s1/conv",
				Words: "optimised builds, in_c a multiple of 32 and at most 2048 taps"},
			{Ops: []Op{PWConv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__)", Body: "mve_s8s1/conv",
				Words: "optimised builds, every shape"},
		}},
	{"f32_rows4_heliumf", HeliumF, mats, []Pair{{dtype.F32, dtype.F32}, {dtype.F32, dtype.S1}}, "",
		"four output channels per vector, each lane summing in the reference's order (VMUL, VADD; never fused; s1 weights: the bit becomes the sign of 1.0f by VSLI, then one exact VFMA), scalar redo on flushed denormals or NaN",
		[]string{"mve_f32.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__) && defined(__GNUC__)", Body: "mve_f32/dense",
				Words: "optimised GCC-compatible builds, every shape; f32 x s1: only calls whose sums cannot need the overflow rescue (the driver's gate); the body redoes a block with scalar code when MVE flushed a denormal or met a NaN"},
			{Ops: []Op{Conv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__) && defined(__GNUC__)",
				Shape: "p->k_h * p->k_w <= 64 && (p->pad_mode == DQ_PAD_ZERO || p->in_c <= 256)", Body: "mve_f32/conv",
				Words: "optimised GCC-compatible builds, at most 64 kernel taps, and in_c ≤ 256 with pad values; f32 x s1: only calls that cannot need the rescue; the body redoes a block with scalar code on a flushed denormal or NaN"},
			{Ops: []Op{PWConv2D}, Site: SiteEntry, Pre: "defined(__OPTIMIZE__) && defined(__GNUC__)", Body: "mve_f32/conv",
				Words: "optimised GCC-compatible builds, every shape; f32 x s1: only calls that cannot need the rescue; the body redoes a block with scalar code on a flushed denormal or NaN"},
		}},
	{"s1s1_px4_dsp", DSP, []Op{PWConv2D}, s1s1, "s1 output, in_c ≤ 32, no fused pool",
		"four pixels (one word each) and their output words in registers in a naked assembly loop; each (weight word, bound) pair serves all four: XOR, SWAR popcount ending in USAD8, CMP, RRX (11 instructions per output bit); flipped channels as complemented weights",
		[]string{"pw_s1.tmpl"}, true, dtype.S1, []Rule{
			{Site: SiteS1Setup, Pre: "defined(DQ_BIN_ROWS) && !defined(DQ_NO_ASM)",
				Shape: "n_words == 1 && ph * pw == 1 && n_out <= 256 && 2 * n_out <= DQ_GATHER_WORDS", Body: "pw_s1/conv",
				Words: "optimised GCC-compatible builds with the assembly, in_c ≤ 32, no fused pool, at most 256 channels"},
		}},
	{"s1s1_binrows_dsp", DSP, mats, s1s1, "",
		"naked-assembly row loops (`dq_bin_thr_rows`, `dq_bin_cmp_rows`): one LDM jumps into unrolled groups of three words (carry-save adder, nibble counts with modified-immediate masks, byte accumulators), the threshold compare and bit packing in the same loop; with a fused max pool the later positions compute only the channels still 1 (a live mask: 5 more instructions per computed row, 11 per skipped row) and AND in place",
		[]string{"kernels_c/dq_types.h", "dense_paths.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Outs: []dtype.DType{dtype.S1}, Site: SiteEntry, Pre: "defined(DQ_BIN_ROWS)",
				Shape: "n_words <= 3 * DQ_BIN_MAX_G + 2 && (os->flip == NULL || n_out <= 256)", Body: "dense/s1s1_binthr",
				Words: "s1 output, optimised GCC-compatible builds (DQ_BIN_ROWS), rows of at most 20 words, at most 256 channels when some are flipped: threshold and packing in the assembly"},
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(DQ_ASM_POPCOUNT)",
				Shape: "n_words % 3 == 0 && n_words <= 30 && n_out <= 256", Body: "dense/s1s1_xorrows",
				Words: "GCC-compatible builds (DQ_ASM_POPCOUNT), rows of a multiple of 3 words up to 30, at most 256 channels: the row loop in assembly, the output stage in C"},
			{Ops: convs2, Outs: []dtype.DType{dtype.S1}, Site: SiteDecl, Pre: "defined(DQ_BIN_ROWS)", Body: "conv/s1s1_bindecl",
				Words: "declares the flag bin and the bounds vt (behind the gathered taps in xs)"},
			{Ops: convs2, Outs: []dtype.DType{dtype.S1}, Site: SiteS1Setup, Pre: "defined(DQ_BIN_ROWS)", Body: "conv/s1s1_binsetup",
				Words: "once per call: bin when at most 20 tap words per position, 256 channels and room in xs for the pool's positions and the bounds; then the bounds"},
			{Ops: convs2, Outs: []dtype.DType{dtype.S1}, Site: SiteGathered, Pre: "defined(DQ_BIN_ROWS)", Shape: "bin", Body: "conv/s1s1_bin",
				Words: "s1 output, optimised GCC-compatible builds, bin (see setup): threshold, pool and packing in the assembly"},
			{Ops: convs2, Site: SiteGathered, Pre: "defined(DQ_ASM_POPCOUNT)", Shape: "krem == 0 && kg <= 10 && n_out <= 128", Body: "conv/s1s1_rows",
				Words: "GCC-compatible builds, tap words a multiple of 3 up to 30, at most 128 channels: the row loop in assembly"},
		}},
	{"s8s8_smlad_dsp", DSP, mats, s8s8, "",
		"SXTB16/SMLAD in assembly, several pixels and channels per pass, an s8 output stage per row; dense inputs in chunks of 1024; convs with at most four output channels (in_c % 4 == 0) read the inputs in place against weights converted once per call (_n4)",
		[]string{"dense_paths.tmpl", "conv_s8s8.tmpl", "dsp_s8.tmpl", "dsp_s8_n4.tmpl", "partials.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__GNUC__)", Body: "dense/s8s8_dsp",
				Words: "GCC-compatible builds, every shape (inputs in chunks of 1024)"},
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "!defined(__GNUC__)", Shape: "n <= 1024", Body: "dense/s8s8_dsp_c",
				Words: "other compilers (intrinsics), at most 1024 inputs"},
			{Ops: convs2, Site: SiteEntry, Body: "conv/s8s8_simd",
				Words: "every shape; inside, by shape (GCC-compatible builds): at most four channels with in_c % 4 == 0, no pool (_n4, not on Helium cores; declines when it cannot), else K ≤ 576 with no pool or K ≤ 288 with a pool of at most four positions (assembly, P = 4 or 2 positions per pass), else the SMLAD loop in C"},
		}},
	{"s8s1_usada8_dsp", DSP, mats, s8s1, "",
		"no multiplies: USADA8 of the inputs (as unsigned bytes) against 0x00/0xFF masks made from the weight bits, then acc = Σ\\|u − m\\| − Z·N − (255 − 2Z)·popcount",
		[]string{"s8s1.tmpl", "dense_paths.tmpl", "conv_s8s1_dsp.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteEntry, Pre: "defined(__GNUC__)", Shape: "n <= 2048 && in_zp >= -128 && in_zp <= 127", Body: "dense/s8s1_dsp",
				Words: "GCC-compatible builds, at most 2048 inputs, zero point in [-128, 127]"},
			{Ops: convs2, Site: SiteEntry, Pre: "defined(__GNUC__)", Body: "conv/s8s1_dsp",
				Words: "GCC-compatible builds, zero point and pad code in [-128, 127]; inside, by shape: K = taps·in_c ≤ 512 (byte masks once per call), else at most 96 words of taps and 768 channels (the bits in place); other shapes fall to the portable loop"},
		}},
	{"f32s1_pm1_fma", FMA, mats, f32s1, "",
		"one VFMA per MAC with a ±1.0f weight (the product is exact, so the fused add rounds as acc ± x): dense takes four inputs' signs from a 16-entry table indexed by a nibble of weight bits; convs turn the bits into ±1.0f once per call (first layers, K ≤ 96) or run the dense routine tap by tap (in_c a multiple of 32)",
		[]string{"dense_paths.tmpl", "conv_f32s1_fma.tmpl", "partials.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteRows, Pre: "defined(__GNUC__)", Shape: "!rescue", Body: "dense/f32s1_fma",
				Words: "GCC-compatible builds, calls whose sums cannot need the overflow rescue: the channels in groups of four, the rest by the portable loop"},
			{Ops: convs2, Site: SiteEntry, Pre: "defined(__GNUC__)", Body: "conv/f32s1_fma",
				Words: "GCC-compatible builds, calls that cannot need the rescue (the driver's gate); inside, by shape: K ≤ 96 taps (first layers: the weights as ±1.0f once per call), else in_c a multiple of 32 (dense routine tap by tap); other shapes fall to the portable loop"},
		}},
	{"f32s1_rows_portable", Portable, []Op{DWConv2D}, f32s1, "kernels of at most 9 taps, pools of at most 9 positions (the first layer of Larq models)",
		"the weight bits of a block of 32 channels become ±1.0f once per call, each pixel's taps are gathered once per input channel, every tap one DQ_FMA_PM1 (exact product, so the fused add rounds as r ± x) into its kernel row's sum; holds f32s1_rowsums_vfp, f32s1_rowsums_heliumf and f32s1_smallstack_nosimd",
		[]string{"f32s1_first.tmpl"}, false, dtype.Invalid, []Rule{
			{Site: SiteEntry, Shape: "p->k_h * p->k_w <= 9 && ph * pw <= 9", Body: "f32s1_first/conv",
				Words: "every core, calls that cannot need the rescue (the driver's gate), at most 9 taps and 9 pool positions; inside, 3x3 stride 1 with a 2x2/2 pool and s1 output takes the row-sum paths (VFP assembly, Helium when the inputs are in range)"},
		}},
	{"f32s1_rowsums_vfp", VFP, []Op{DWConv2D}, f32s1, "3x3 stride 1 with fused 2x2/2 pool and s1 output (the first layer of Larq models; conv2d over one input channel becomes this kernel)",
		"each kernel row sums on its own, then the rows (gen/ref.RowSums, as the reference interpreter): a row of ±1 taps over inputs a, b, c is one of eight signed sums ±((a ± b) ± c), computed once per pixel for its 4x4 window by VLDM/VSTM; a channel adds three of them per conv position, 40 instructions per channel and pixel (flipped channels in a second run), 37 with a chain of conditional compares instead of the pool maximum when the inputs are finite and below 2^124",
		[]string{"f32s1_first.tmpl"}, true, dtype.Invalid, nil},
	{"f32s1_rowsums_heliumf", HeliumF, []Op{DWConv2D}, f32s1, "as f32s1_rowsums_vfp, when no denormal, Inf or NaN can occur (inputs and pad value 0 or of magnitude in [2^-103, 2^124), thresholds 0 or ≥ 2^-103)",
		"four channels per vector, two pixels per pass over the channel groups, each row term one gather from per-lane table addresses, VMAXNM for the pool (59 instructions per four channels and two pixels)",
		[]string{"f32s1_first_mve.tmpl"}, true, dtype.Invalid, nil},
	{"s8s8_mla_v7m", V7M, mats, s8s8, "interior conv positions",
		"naked Thumb-2 MLA loops: dense four rows per pass sharing each input minus the zero point; convs two positions x three channels reading the input in place, zero point by weight sums; s8 output stage with the rounding on the float's bits",
		[]string{"nosimd_s8.tmpl", "nosimd_s8_asm.tmpl"}, true, dtype.Invalid, nosimdRules("v7m")},
	{"s8s8_muls_v6m", V6M, mats, s8s8, "interior conv positions",
		"naked ARMv6-M loop: four rows share each input, one LDRSB index register for the input and the rows, accumulators in r8-r11; zero point by weight sums",
		[]string{"nosimd_s8.tmpl", "nosimd_s8_asm.tmpl"}, true, dtype.Invalid, nosimdRules("v6m")},
	{"s8s8_rows3_portable", Portable, []Op{Dense}, s8s8, "cores without the DSP extension (M0, M0+, M3, the host)",
		"three output channels per pass share each loaded input minus the zero point (as CMSIS-NN's portable s8 matrix-vector loop, which takes four; four measured slower on the M3: GCC spills)",
		[]string{"dense_paths.tmpl"}, false, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteRows, Pre: "!defined(DQ_ISA_DSP)", Body: "dense/s8s8_rows3",
				Words: "cores without DQ_ISA_DSP: the channels left by the paths before it, in groups of three; the last one or two by the one-channel loop"},
		}},
	{"f32s8_rows4_heliumf", HeliumF, convs2, []Pair{{dtype.F32, dtype.S8}}, "s8 output, first layers: K = k_h·k_w·in_c ≤ 64 taps, no batch norm",
		"four output channels per vector, each lane summing in the reference's order (VMUL, VADD; never fused), VMAXNM pool, VCVTN (ties to even, saturating), integer clamp, predicated byte store; a 1x1 over 3 channels keeps a group's weights in registers over every pixel; redone by the scalar path on flushed denormals (FPSCR IDC/UFC) or a non-finite sum",
		[]string{"f32s8.tmpl", "f32s8_file.tmpl"}, true, dtype.S8, nil},
	{"f32s8_block_vfp", VFP, convs2, []Pair{{dtype.F32, dtype.S8}}, "s8 output, K ≤ 256 taps (K · pool ≤ 144); the same block path in plain C on the host",
		"weights of a block of channels as floats once per call, taps gathered once per pixel (contiguous rows where no tap is padding; 3x3 over one channel: weights in registers), output stage hoisted (relu dropped where the clamp already gives q_min), VCVTR + integer clamp; the 1x1 over 3 channels into an unsigned 8-bit range is an assembly loop (VLDM, VCVTR, USAT; non-finite sums seen by FPSCR.IOC); a non-finite sum sends the pixel block to the portable element with the overflow rescue (semantics.md)",
		[]string{"f32s8.tmpl", "f32s8_file.tmpl"}, true, dtype.S8, []Rule{
			{Site: SiteEntry, Host: true, Pre: "defined(DQ_F32S8_FAST)",
				Shape: "p->k_h * p->k_w * p->in_c * ph * pw <= DQ_F32S8_XBUF && p->k_h * p->k_w * p->in_c <= DQ_F32S8_WBUF && !dq_f32s8_bigmul(os->mul, n_out)",
				Body:  "f32s8/fast",
				Words: "VFP cores and the host (plain C), K = k_h·k_w·in_c ≤ DQ_F32S8_WBUF (256; 64 with DQ_SMALL_STACK) and K·pool ≤ DQ_F32S8_XBUF (144; 36), no |mul| > 1; a block with a non-finite sum goes to the portable element with the rescue"},
		}},
	{"f32f32_rows8_vfp", VFP, []Op{Dense}, []Pair{{dtype.F32, dtype.F32}}, "",
		"eight output channels per pass in VFP assembly (VMUL then VADD, input order kept)",
		[]string{"dense_paths.tmpl"}, true, dtype.Invalid, []Rule{
			{Ops: []Op{Dense}, Site: SiteRows8, Pre: "defined(__OPTIMIZE__) && !defined(DQ_NO_ASM)", Shape: "n >= 2", Body: "dense/f32f32_vfp",
				Words: "optimised builds (-O0 keeps r7 as frame pointer), at least 2 inputs: each group of eight channels sums the even count of leading inputs in assembly, the last odd input in C; the C loop is the DQ_NO_ASM twin"},
		}},
	{"s1s1_gather_portable", Portable, convs2, s1s1, "",
		"each pixel's taps gathered into one packed row, so a channel's OHWI weights are one contiguous row",
		[]string{"conv_s1s1_gather.tmpl"}, false, dtype.Invalid, []Rule{
			{Site: SitePixel, Shape: "fast", Body: "conv/s1s1_pixel",
				Words: "every core, when the taps of the pool's positions fit the gather buffer (fast: ph·pw·K ≤ DQ_GATHER_WORDS words); the body declines a conv2d pixel with zero-padded taps (no pad values)"},
		}},
	{"s8s8_gather_portable", Portable, convs2, s8s8, "cores without SIMD32 (M0, M0+, M3, the host), no fused pool",
		"the pixel's taps minus the zero point gathered once as s16, then three output channels per pass over their contiguous OHWI rows",
		[]string{"conv_s8s8.tmpl"}, false, dtype.Invalid, []Rule{
			{Ops: []Op{Conv2D}, Site: SitePixel, Pre: "!defined(DQ_ISA_DSP)", Shape: "ph * pw == 1 && p->k_h * p->k_w * p->in_c <= DQ_S8_GATHER", Body: "conv/s8s8_pixel",
				Words: "cores without DQ_ISA_DSP, no fused pool, K ≤ DQ_S8_GATHER taps; the body declines a pixel whose pad value does not fit s16"},
			{Ops: []Op{PWConv2D}, Site: SitePixel, Pre: "!defined(DQ_ISA_DSP)", Shape: "ph * pw == 1 && p->in_c <= DQ_S8_GATHER", Body: "conv/s8s8_pixel",
				Words: "cores without DQ_ISA_DSP, no fused pool, in_c ≤ DQ_S8_GATHER"},
		}},
	{"s1s1_smallstack_nosimd", NoSIMD, convs2, s1s1, "",
		"the portable gather with a gather row of 96 words instead of 512: every kernel ≤ 1 KB of stack with its calls",
		[]string{"kernels_c/dq_types.h", "conv_s1s1_gather.tmpl"}, false, dtype.Invalid, nil},
	{"f32s1_smallstack_nosimd", NoSIMD, []Op{DWConv2D}, f32s1, "",
		"the portable depthwise fast path with soft-float; the signs as 9-bit masks instead of ±1.0f (same products)",
		[]string{"f32s1_first.tmpl"}, false, dtype.Invalid, nil},
}

// Kernels returns the table's kernels that take v.
func (v Variant) Kernels(rows []Row) []Kernel {
	var out []Kernel
	for _, r := range rows {
		if v.covers(r.Kernel) {
			out = append(out, r.Kernel)
		}
	}
	return out
}

func (v Variant) covers(k Kernel) bool { return v.typeCovers(k) && v.ruled(k) }

// typeCovers reports whether k is one of v's ops x pairs (and its output).
func (v Variant) typeCovers(k Kernel) bool {
	op, pair := false, false
	for _, o := range v.Ops {
		op = op || o == k.Op
	}
	for _, p := range v.Pairs {
		pair = pair || (p.In == k.In && p.W == k.W)
	}
	return op && pair && (v.Out == dtype.Invalid || v.Out == k.Out)
}

// VariantsOf returns the names of the variants k takes besides its portable
// loops, in table order.
func VariantsOf(k Kernel) []string {
	var out []string
	for _, v := range Variants {
		if v.covers(k) {
			out = append(out, v.Name)
		}
	}
	return out
}

// ISAOf returns the description of isa.
func ISAOf(isa ISA) (ISAInfo, bool) {
	for _, i := range ISAs {
		if i.ISA == isa {
			return i, true
		}
	}
	return ISAInfo{}, false
}

// ValidateVariants rejects a variant table with an unknown ISA, a duplicate
// or empty name, no ops or pairs, no source, no kernel of rows, or a
// selection rule that does not fit its variant (validateRules).
func ValidateVariants(vs []Variant, rows []Row) error {
	seen := map[string]bool{}
	for i, v := range vs {
		if v.Name == "" || seen[v.Name] {
			return fmt.Errorf("variant %d: name %q empty or repeated", i, v.Name)
		}
		seen[v.Name] = true
		if _, ok := ISAOf(v.ISA); !ok {
			return fmt.Errorf("variant %s: unknown ISA %q", v.Name, v.ISA)
		}
		if len(v.Ops) == 0 || len(v.Pairs) == 0 || len(v.Sources) == 0 || v.Technique == "" {
			return fmt.Errorf("variant %s: ops, pairs, sources and technique are required", v.Name)
		}
		for _, op := range v.Ops {
			for _, p := range v.Pairs {
				if !(Variant{Ops: []Op{op}, Pairs: []Pair{p}}).hasKernel(rows) {
					return fmt.Errorf("variant %s: no kernel %s %s in the table", v.Name, op, p)
				}
			}
		}
		if err := validateRules(v, rows); err != nil {
			return err
		}
	}
	return nil
}

func (v Variant) hasKernel(rows []Row) bool {
	for _, r := range rows {
		if v.typeCovers(r.Kernel) {
			return true
		}
	}
	return false
}

// nosimdRules are the rules of the M3 and M0 s8 x s8 variants: the same
// sites and shapes, with the bodies of core ("v7m", "v6m").
func nosimdRules(core string) []Rule {
	const pre = "defined(__GNUC__) && !defined(DQ_NO_ASM)"
	sOrF := []dtype.DType{dtype.S8, dtype.F32}
	return []Rule{
		{Ops: []Op{Dense}, Site: SiteRows, Pre: pre, Body: "nosimd_s8/dense_" + core,
			Words: "GCC-compatible builds: the channels in groups of four, the rest by the portable loops"},
		{Ops: []Op{Conv2D}, Outs: sOrF, Site: SiteEntry, Pre: pre,
			Shape: "ph * pw == 1 && p->dil_w == 1", Body: "nosimd_s8/conv_" + core,
			Words: "GCC-compatible builds, s8 or f32 output, no fused pool, dil_w 1: the interior positions, which the portable loop then skips"},
		{Ops: []Op{PWConv2D}, Outs: sOrF, Site: SiteEntry, Pre: pre,
			Shape: "ph * pw == 1", Body: "nosimd_s8/conv_" + core,
			Words: "GCC-compatible builds, s8 or f32 output, no fused pool: every position, which the portable loop then skips"},
		{Ops: convs2, Outs: sOrF, Site: SiteDecl, Pre: pre, Body: "nosimd_s8/decl",
			Words: "declares the interior rectangle ns_* the entry path computed"},
		{Ops: convs2, Outs: sOrF, Site: SitePixel, Pre: pre,
			Shape: "oy >= ns_y0 && oy < ns_y1 && ox >= ns_x0 && ox < ns_x1", Body: "nosimd_s8/skip",
			Words: "skips the positions the entry path computed"},
	}
}
