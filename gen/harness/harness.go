// Package harness turns test vectors (gen/ref.Case) into self-checking C
// programs: one call of the kernel per case and a comparison (s1 and s8 outputs bit for bit, f32
// within 1e-5 relative or 1e-6 absolute, NaN equal to NaN). A program prints
// one "FAIL ..." line per mismatching case and finally "ok N" (N = cases
// passed) or "FAILED f of N", and returns the number of failures.
//
// The inputs, weights and expected outputs are not C initialisers but one
// binary image (Program.Data) that a two-line assembly file links in with
// .incbin: the compilers spent most of the harness's time parsing those
// arrays (about 1 s per program for clang), the assembler copies the bytes.
//
// Many cases go into one program so that builds stay few; Batches groups
// them. The tests in this package build and run the programs with the host
// compilers (gcc, clang) and on Cortex-M4 under QEMU through package target.
package harness

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Batches splits cases into groups of at most max cases whose C data stays
// below maxBytes (an estimate), keeping table order.
func Batches(cases []*ref.Case, max, maxBytes int) [][]*ref.Case {
	var out [][]*ref.Case
	var cur []*ref.Case
	size := 0
	for _, c := range cases {
		n := caseBytes(c)
		if len(cur) > 0 && (len(cur) >= max || size+n > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, c)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// outWords is the number of 32-bit words buf takes (S1 buffers count words already).
func outWords(buf ref.Buf) int {
	if buf.T == dtype.S8 {
		return (buf.Len() + 3) / 4
	}
	return buf.Len()
}

func caseBytes(c *ref.Case) int {
	n := 4*c.Want.Len() + 4*c.Weights.Len()
	for _, b := range c.Inputs {
		n += 4 * b.Len()
	}
	return n
}

// A Program checks a batch of cases: Main is its C source, Data the image
// of its constant arrays (Asm links it in), Kernels the kernels it calls
// (their files are kernels_c/<name>.c).
type Program struct {
	Main    []byte
	Data    []byte
	Kernels []string
	img     *image
}

// Asm returns the assembly source that places the data image, read from
// binPath, in .rodata under the symbols main.c declares (GNU as syntax, which
// gcc, clang and arm-none-eabi-gcc all assemble).
func (p *Program) Asm(binPath string) []byte {
	var b bytes.Buffer
	b.WriteString("/* dqnn kernel test program data (gen/harness): generated for a test run. */\n")
	b.WriteString("\t.section .rodata\n\t.balign 4\n")
	off := 0
	for _, r := range p.img.regions() {
		fmt.Fprintf(&b, "\t.global %s\n%s:\n", r.sym, r.sym)
		if r.n > 0 {
			fmt.Fprintf(&b, "\t.incbin %s, %d, %d\n", strconv.Quote(binPath), off, r.n)
		}
		off += r.n
	}
	return b.Bytes()
}

// NewProgram renders the program checking cases.
func NewProgram(cases []*ref.Case) (*Program, error) {
	var b bytes.Buffer
	img := &image{}
	b.WriteString("/* dqnn kernel test program (gen/harness): generated for a test run. */\n")
	b.WriteString("#include <stdio.h>\n#include <string.h>\n#include <math.h>\n#include \"dq_kernels.h\"\n\n")
	for _, r := range img.regions() {
		fmt.Fprintf(&b, "extern const %s %s[];\n", r.ctype, r.sym)
	}
	b.WriteString("\n")
	b.WriteString(checkers)
	// One output buffer for all cases (each uses its first elements): RAM
	// holds the largest output, not their sum, so a batch is bounded by
	// flash, where the const inputs and expectations live (issue #18: more
	// vectors per QEMU boot on the micro:bit's 16 KB of RAM).
	words := 1
	for _, c := range cases {
		words = max(words, outWords(c.Want))
	}
	fmt.Fprintf(&b, "static union { float f32[%d]; int8_t s8[%d]; uint32_t s1[%d]; } outbuf;\n\n", words, 4*words, words)
	// The buffer is filled before each case; bytes past the case's output
	// must still hold the fill afterwards (a kernel writing past its end).
	b.WriteString(checkTail)
	used := map[string]bool{}
	for i, c := range cases {
		k, ok := matrix.ByName(c.Kernel)
		if !ok {
			return nil, fmt.Errorf("case %d (%s): unknown kernel %q", i, c.Desc, c.Kernel)
		}
		used[k.Name()] = true
		if err := emitCase(&b, img, i, k, c); err != nil {
			return nil, fmt.Errorf("case %d (%s, %s): %w", i, c.Kernel, c.Desc, err)
		}
	}
	b.WriteString("int main(void) {\n")
	// a batch of one output type leaves the other checkers unused
	b.WriteString("  (void)check_f32;\n  (void)check_s8;\n  (void)check_s1;\n")
	for i := range cases {
		fmt.Fprintf(&b, "  run%d();\n", i)
	}
	fmt.Fprintf(&b, "  if (fails == 0) printf(\"ok %%d\\n\", passed);\n")
	fmt.Fprintf(&b, "  else printf(\"FAILED %%d of %%d\\n\", fails, fails + passed);\n")
	b.WriteString("  return fails;\n}\n")
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	return &Program{Main: b.Bytes(), Data: img.bytes(), Kernels: names, img: img}, nil
}

// image collects a program's constant arrays by element type; each array
// is named in main.c as its region's symbol plus an element offset. The
// regions are laid out in this order, 4-byte elements first, so each
// starts aligned.
type image struct {
	f32 []float32
	u32 []uint32
	i32 []int32
	s8  []int8
}

type region struct {
	sym, ctype string
	n          int // bytes
}

func (m *image) regions() []region {
	return []region{
		{"dqh_f32", "float", 4 * len(m.f32)},
		{"dqh_u32", "uint32_t", 4 * len(m.u32)},
		{"dqh_i32", "int32_t", 4 * len(m.i32)},
		{"dqh_s8", "int8_t", len(m.s8)},
	}
}

// bytes is the image in the targets' byte order (little-endian: x86-64 and
// every Cortex-M configuration dqnn builds for).
func (m *image) bytes() []byte {
	out := make([]byte, 0, 4*(len(m.f32)+len(m.u32)+len(m.i32))+len(m.s8))
	for _, v := range m.f32 {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	for _, v := range m.u32 {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	for _, v := range m.i32 {
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	}
	for _, v := range m.s8 {
		out = append(out, byte(v))
	}
	return out
}

// add appends buf to the image and returns the C expression of its first
// element (a constant address, usable in static initialisers).
func (m *image) add(buf ref.Buf) string {
	switch buf.T {
	case dtype.F32:
		m.f32 = append(m.f32, buf.F32...)
		return fmt.Sprintf("(dqh_f32 + %d)", len(m.f32)-len(buf.F32))
	case dtype.S8:
		m.s8 = append(m.s8, buf.S8...)
		return fmt.Sprintf("(dqh_s8 + %d)", len(m.s8)-len(buf.S8))
	case dtype.S1:
		m.u32 = append(m.u32, buf.S1...)
		return fmt.Sprintf("(dqh_u32 + %d)", len(m.u32)-len(buf.S1))
	}
	panic(fmt.Sprintf("harness: no image region for %v", buf.T))
}

func (m *image) addI32(v []int32) string {
	m.i32 = append(m.i32, v...)
	return fmt.Sprintf("(dqh_i32 + %d)", len(m.i32)-len(v))
}

// checkers are the comparison helpers of every program.
const checkers = `static int fails = 0, passed = 0;

static void result(int id, const char *kernel, const char *desc, dq_status st, int bad, const char *what) {
  if (st != DQ_OK) {
    printf("FAIL case %d %s (%s): status %d\n", id, kernel, desc, (int)st);
    ++fails;
  } else if (bad >= 0) {
    printf("FAIL case %d %s (%s): %s\n", id, kernel, desc, what);
    ++fails;
  } else {
    ++passed;
  }
}

static char msg[160];

/* f32: equal, both NaN, or within 1e-5 relative / 1e-6 absolute. Returns the first bad index or -1. */
static int check_f32(const float *got, const float *want, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    const float g = got[i], w = want[i];
    float d;
    if (g == w || (g != g && w != w)) continue;
    d = fabsf(g - w);
    if (d <= 1e-6f || d <= 1e-5f * fabsf(w)) continue;
    sprintf(msg, "element %d: got %.9g want %.9g", i, (double)g, (double)w);
    return i;
  }
  return -1;
}

static int check_s8(const int8_t *got, const int8_t *want, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      sprintf(msg, "element %d: got %d want %d", i, (int)got[i], (int)want[i]);
      return i;
    }
  }
  return -1;
}

static int check_s1(const uint32_t *got, const uint32_t *want, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      sprintf(msg, "word %d: got 0x%08lx want 0x%08lx", i, (unsigned long)got[i], (unsigned long)want[i]);
      return i;
    }
  }
  return -1;
}

`

// checkTail is the overrun check of the shared output buffer.
const checkTail = `static int check_tail(int from) {
  int i;
  for (i = from; i < (int)sizeof outbuf; ++i) {
    if (outbuf.s8[i] != (int8_t)0xA5) {
      sprintf(msg, "byte %d past the %d-byte output was written", i - from, from);
      return i;
    }
  }
  return -1;
}

`

// cFloat renders v exactly (hex float), or INFINITY / NAN.
func cFloat(v float32) string {
	switch {
	case math.IsNaN(float64(v)):
		return "NAN"
	case math.IsInf(float64(v), 1):
		return "INFINITY"
	case math.IsInf(float64(v), -1):
		return "-INFINITY"
	}
	return strconv.FormatFloat(float64(v), 'x', -1, 32) + "f"
}

// array defines name as buf's place in the image.
func array(b *bytes.Buffer, img *image, name string, buf ref.Buf) {
	fmt.Fprintf(b, "#define %s %s\n", name, img.add(buf))
}

// f32Array is array for an optional float array: "NULL" when v is nil.
func f32Array(b *bytes.Buffer, img *image, name string, v []float32) string {
	if v == nil {
		return "NULL"
	}
	array(b, img, name, ref.Buf{T: dtype.F32, F32: v})
	return name
}

func cInt(v int32) string {
	if v == math.MinInt32 {
		return "(-2147483647 - 1)"
	}
	return strconv.Itoa(int(v))
}

func emitCase(b *bytes.Buffer, img *image, i int, k matrix.Kernel, c *ref.Case) error {
	p := fmt.Sprintf("c%d_", i)
	fmt.Fprintf(b, "/* case %d: %s, %s */\n", i, k.Name(), strings.ReplaceAll(c.Desc, "*/", "* /"))
	for j, in := range c.Inputs {
		array(b, img, fmt.Sprintf("%sin%d", p, j), in)
	}
	if k.Op.HasWeights() {
		array(b, img, p+"w", c.Weights)
	}
	array(b, img, p+"want", c.Want)
	fmt.Fprintf(b, "#define %sout (outbuf.%s)\n", p, c.Want.T.Tag())
	if s := c.Stage; s != nil {
		mul := f32Array(b, img, p+"mul", s.Mul)
		add := f32Array(b, img, p+"add", s.Add)
		bs := f32Array(b, img, p+"bn_sub", s.BNSub)
		bm := f32Array(b, img, p+"bn_mul", s.BNMul)
		ba := f32Array(b, img, p+"bn_add", s.BNAdd)
		thrF := f32Array(b, img, p+"thr_f", s.ThrF)
		thrI, flip := "NULL", "NULL"
		if s.ThrI != nil {
			thrI = p + "thr_i"
			fmt.Fprintf(b, "#define %s %s\n", thrI, img.addI32(s.ThrI))
		}
		if s.Flip != nil {
			flip = p + "flip"
			array(b, img, flip, ref.Buf{T: dtype.S1, S1: s.Flip})
		}
		fmt.Fprintf(b, "static const dq_output_stage %sos = {%s, %s, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s};\n",
			p, mul, add, s.Act, bs, bm, ba, cFloat(s.OutInvScale), cInt(s.QMin), cInt(s.QMax), cInt(s.OutZP), thrI, thrF, flip)
	}
	var call, callWS string
	in0 := p + "in0"
	// Kernels that take weight sums run twice: with w_sum NULL (the kernel
	// computes them) and with the reference's sums (ref.WeightSums), as a
	// generated model passes them.
	ws, err := ref.CaseWeightSums(k, c)
	if err != nil {
		return err
	}
	if ws != nil {
		fmt.Fprintf(b, "#define %swsum %s\n", p, img.addI32(ws))
	}
	switch {
	case c.Dense != nil:
		fields := fmt.Sprintf("%d, %d, %d", c.Dense.InN, c.Dense.OutN, c.Dense.InZP)
		fmt.Fprintf(b, "static const dq_dense_params %sp = {%s, NULL};\n", p, fields)
		call = fmt.Sprintf("%s(&%sp, %s, %sw, &%sos, %sout)", k.Name(), p, in0, p, p, p)
		if ws != nil {
			fmt.Fprintf(b, "static const dq_dense_params %spws = {%s, %swsum};\n", p, fields, p)
			callWS = fmt.Sprintf("%s(&%spws, %s, %sw, &%sos, %sout)", k.Name(), p, in0, p, p, p)
		}
	case c.Conv != nil:
		q := c.Conv
		fields := fmt.Sprintf("%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s, %d, %d, %d, %d, %d, %d, %d, %d",
			q.InH, q.InW, q.InC, q.OutH, q.OutW, q.OutC, q.KH, q.KW, q.StrideH, q.StrideW, q.DilH, q.DilW, q.PadTop, q.PadLeft, q.PadMode, cFloat(q.PadValue),
			q.InZP, q.DepthMultiplier, q.ConvH, q.ConvW, q.PoolH, q.PoolW, q.PoolStrideH, q.PoolStrideW)
		fmt.Fprintf(b, "static const dq_conv_params %sp = {%s, NULL};\n", p, fields)
		call = fmt.Sprintf("%s(&%sp, %s, %sw, &%sos, %sout)", k.Name(), p, in0, p, p, p)
		if ws != nil {
			fmt.Fprintf(b, "static const dq_conv_params %spws = {%s, %swsum};\n", p, fields, p)
			callWS = fmt.Sprintf("%s(&%spws, %s, %sw, &%sos, %sout)", k.Name(), p, in0, p, p, p)
		}
	case c.Pool != nil:
		q := c.Pool
		fmt.Fprintf(b, "static const dq_pool_params %sp = {%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d};\n", p,
			q.InH, q.InW, q.C, q.OutH, q.OutW, q.PoolH, q.PoolW, q.StrideH, q.StrideW, q.PadTop, q.PadLeft)
		call = fmt.Sprintf("%s(&%sp, %s, %sout)", k.Name(), p, in0, p)
	case c.Concat != nil:
		q := c.Concat
		fmt.Fprintf(b, "#define %sc %s\n", p, img.addI32(q.C))
		fmt.Fprintf(b, "static const %s *const %sins[%d] = {", k.In.CType(), p, len(c.Inputs))
		for j := range c.Inputs {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "%sin%d", p, j)
		}
		b.WriteString("};\n")
		fmt.Fprintf(b, "static const dq_concat_params %sp = {%d, %d, %sc};\n", p, q.Rows, len(q.C), p)
		call = fmt.Sprintf("%s(&%sp, %sins, %sout)", k.Name(), p, p, p)
	case c.Elem != nil:
		q := c.Elem
		fmt.Fprintf(b, "static const dq_elementwise_params %sp = {%d, %d, %s, %s, %d, %d, %d};\n", p, q.Rows, q.C, cFloat(q.Scale), cFloat(q.InvScale), q.ZP, q.QMin, q.QMax)
		switch k.Op {
		case matrix.Affine:
			call = fmt.Sprintf("%s(&%sp, %s, &%sos, %sout)", k.Name(), p, in0, p, p)
		case matrix.Add:
			call = fmt.Sprintf("%s(&%sp, %s, %sin1, %sout)", k.Name(), p, in0, p, p)
		default:
			call = fmt.Sprintf("%s(&%sp, %s, %sout)", k.Name(), p, in0, p)
		}
	default:
		return fmt.Errorf("no parameters")
	}
	if (k.Op == matrix.Affine || k.Op.HasWeights()) && c.Stage == nil {
		return fmt.Errorf("no output stage")
	}
	fmt.Fprintf(b, "static void run%d(void) {\n", i)
	fmt.Fprintf(b, "  dq_status st;\n  int bad = -1;\n")
	nbytes := 4 * c.Want.Len()
	if c.Want.T == dtype.S8 {
		nbytes = c.Want.Len()
	}
	b.WriteString("  memset(outbuf.s8, 0xA5, sizeof outbuf); /* unwritten elements, s1 padding bits and overruns show up */\n")
	fmt.Fprintf(b, "  st = %s;\n", call)
	fmt.Fprintf(b, "  if (st == DQ_OK) bad = check_%s(%sout, %swant, %d);\n", c.Want.T.Tag(), p, p, c.Want.Len())
	fmt.Fprintf(b, "  if (st == DQ_OK && bad < 0) bad = check_tail(%d);\n", nbytes)
	if callWS != "" {
		fmt.Fprintf(b, "  if (st == DQ_OK && bad < 0) {\n")
		b.WriteString("    memset(outbuf.s8, 0xA5, sizeof outbuf);\n")
		fmt.Fprintf(b, "    st = %s;\n", callWS)
		fmt.Fprintf(b, "    if (st == DQ_OK) bad = check_%s(%sout, %swant, %d);\n", c.Want.T.Tag(), p, p, c.Want.Len())
		fmt.Fprintf(b, "    if (st == DQ_OK && bad < 0) bad = check_tail(%d);\n  }\n", nbytes)
	}
	fmt.Fprintf(b, "  result(%d, %q, %q, st, bad, msg);\n}\n\n", i, k.Name(), c.Desc)
	return nil
}

var okLine = regexp.MustCompile(`(?m)^ok (\d+)$`)

// Check parses a program's output: nil if it printed "ok n" for n cases.
func Check(stdout string, n int) error {
	m := okLine.FindStringSubmatch(stdout)
	if m == nil {
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) > 20 {
			lines = append(lines[:20], fmt.Sprintf("... (%d more lines)", len(lines)-20))
		}
		return fmt.Errorf("program did not pass:\n%s", strings.Join(lines, "\n"))
	}
	if got, _ := strconv.Atoi(m[1]); got != n {
		return fmt.Errorf("program passed %d cases, want %d", got, n)
	}
	return nil
}

// KernelFiles returns the C files of the named kernels, relative to kernels_c.
func KernelFiles(names []string) []string {
	var fs []string
	for _, n := range names {
		fs = append(fs, n+".c")
	}
	return fs
}
