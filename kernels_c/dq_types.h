/* dq_types.h - types, status codes and bit helpers shared by every dqnn kernel.
 *
 * Hand-written; the one place that states the conventions every generated
 * kernel and every generated model follows.
 *
 * Tensors are single images (batch 1), channels last: [H][W][C] for
 * feature maps, [N] for vectors.
 *
 * s1 layout (X-CUBE-AI DQNN spec 6.2, Larq Compute Engine bitpack.h):
 *   - packed into uint32_t words along the last (channel) axis, so a pixel of
 *     C channels takes DQ_WORDS(C) words and rows start on word boundaries;
 *   - element i of a 32-element group is bit i of its word (LSB first);
 *   - bit 1 = -1 (value < 0), bit 0 = +1 (value >= 0: sign(0) = +1);
 *   - unused high bits of a pixel's last word are 0.
 *   A binary dot product over K elements is K - 2 * popcount(x ^ w).
 *
 * s8 is affine: real = scale * (q - zero_point); scales live in the output
 * stage, zero points in the op parameters.
 *
 * Kernels never allocate, print or keep state; they return a dq_status.
 * Floating-point: every kernel is written so that it computes the same
 * float32 operations in the same order as dqnn's reference interpreter, and
 * every kernel file turns floating-point contraction off itself (pragmas,
 * docs/kernels.md "Compiler flags"), so no a*b+c is fused into one rounding
 * whatever the build flags; -ffast-math is refused with #error.
 */
#ifndef DQ_TYPES_H
#define DQ_TYPES_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status returned by every kernel. */
typedef enum {
  DQ_OK = 0,          /**< success */
  DQ_ERR_SHAPE = -1,  /**< a dimension is out of range or inconsistent */
  DQ_ERR_PARAM = -2   /**< a required pointer is NULL or a parameter is invalid */
} dq_status;

/** Number of uint32_t words that hold n packed s1 elements. */
#define DQ_WORDS(n) (((n) + 31) / 32)

/** Population count of a word, portable (no libgcc call on cores without a popcount instruction). */
static inline int32_t dq_popcount32(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0F0F0F0Fu;
  return (int32_t)((x * 0x01010101u) >> 24);
}

/** Value (+1 or -1) of s1 element i of a packed row. */
static inline int32_t dq_s1_get(const uint32_t *row, int32_t i) {
  return ((row[i >> 5] >> (i & 31)) & 1u) ? -1 : 1;
}

/** Mask of the valid bits of the last word of a row of n elements. */
static inline uint32_t dq_s1_tail_mask(int32_t n) {
  return (n & 31) ? ((1u << (n & 31)) - 1u) : 0xFFFFFFFFu;
}

/** Padding of a convolution's input. */
typedef enum {
  DQ_PAD_ZERO = 0,  /**< padded taps are 0 (Keras/QKeras padding="same"; Larq pad_values=0) */
  DQ_PAD_VALUE = 1  /**< padded taps take pad_value (Larq pad_values=+1/-1, after input quantization) */
} dq_pad_mode;

/** Activation applied inside the output stage, after bias and before batch-norm. */
typedef enum {
  DQ_ACT_NONE = 0,
  DQ_ACT_RELU = 1
} dq_act;

/**
 * Output stage, shared by every kernel that produces per-channel results
 * from an accumulator acc (int32 for s1/s8 inputs with s1/s8 weights, float
 * otherwise). For output channel c:
 *
 *   f32 and s8 outputs:
 *     y = (float)acc * mul[c] + add[c]            (two roundings, never fused)
 *     if act == DQ_ACT_RELU: y = max(y, 0)
 *     if bn_mul != NULL: y = (y - bn_sub[c]) * bn_mul[c] + bn_add[c]
 *   f32 output: y.
 *   s8 output:  q = clamp(round_half_even(y * out_inv_scale), q_min, q_max) + out_zp,
 *               stored as int8_t (q_min + out_zp >= -128, q_max + out_zp <= 127).
 *
 *   s1 output (batch-norm + sign folded into a threshold by the compiler):
 *     +1 (bit 0) iff acc >= thr[c], or iff acc <= thr[c] when bit c of flip is set;
 *     -1 (bit 1) otherwise. Integer accumulators use thr_i, float ones thr_f.
 *     A constant channel uses thr_i = INT32_MIN (always +1) / INT32_MAX, or +-INFINITY.
 */
typedef struct {
  const float *mul;       /**< [out_c] multiplier of the accumulator (f32/s8 outputs) */
  const float *add;       /**< [out_c] offset, e.g. the bias (f32/s8 outputs) */
  int32_t act;            /**< dq_act applied after mul/add */
  const float *bn_sub;    /**< [out_c] second stage, or all three NULL */
  const float *bn_mul;    /**< [out_c] */
  const float *bn_add;    /**< [out_c] */
  float out_inv_scale;    /**< s8 output: 1 / output scale */
  int32_t q_min, q_max;   /**< s8 output: clamp range of q before the zero point */
  int32_t out_zp;         /**< s8 output: zero point added after clamping */
  const int32_t *thr_i;   /**< [out_c] s1 output, integer accumulator */
  const float *thr_f;     /**< [out_c] s1 output, float accumulator */
  const uint32_t *flip;   /**< [DQ_WORDS(out_c)] s1 output: bit c set = compare with <=; NULL = none */
} dq_output_stage;

/** Dense (fully connected): out[o] = sum_i x[i] * w[o][i]. Weights are [out_n][in_n], rows packed per type. */
typedef struct {
  int32_t in_n;   /**< input length, >= 1 */
  int32_t out_n;  /**< output length, >= 1 */
  int32_t in_zp;  /**< s8 input: zero point subtracted from every input element */
  /** s8 input x s8 / s1 weights: [out_n] sum of each output's weights (s8: the codes;
   *  s1: +1 / -1, so in_n - 2 * the set bits), computed when the model is generated: the
   *  zero-point correction -in_zp * w_sum, the s1 rows' popcounts. NULL: the kernel computes
   *  what it needs. Must equal the sums if given. */
  const int32_t *w_sum;
} dq_dense_params;

/**
 * 2-D convolution (also pointwise and depthwise), input [in_h][in_w][in_c],
 * output [out_h][out_w][out_c].
 * Weights: conv2d / pointwise: [out_c][k_h][k_w][in_c] (OHWI), rows of in_c packed per type;
 *          depthwise: [k_h][k_w][in_c * depth_multiplier] (channel = i * depth_multiplier + m,
 *          as Keras orders depthwise outputs), rows packed per type.
 * Input pixel of output (oy, ox), tap (ky, kx):
 *   iy = oy * stride_h + ky * dil_h - pad_top, ix = ox * stride_w + kx * dil_w - pad_left.
 * Taps outside the input are padding (pad_mode). Accumulation order: ky, kx, then input channel,
 * ascending.
 * Fused max-pool (pool_h * pool_w > 1): the conv is computed for every pixel of each
 * pool window (valid pooling, window pool_h x pool_w, stride pool_stride_*), the maximum
 * accumulator of the window goes through the output stage; out_h/out_w are then the pooled sizes
 * and conv_h/conv_w the sizes before pooling.
 */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_top, pad_left;
  int32_t pad_mode;          /**< dq_pad_mode */
  float pad_value;           /**< DQ_PAD_VALUE: value of a padded tap (s1: +1 or -1) */
  int32_t in_zp;             /**< s8 input zero point */
  int32_t depth_multiplier;  /**< depthwise only; out_c = in_c * depth_multiplier */
  int32_t conv_h, conv_w;    /**< size before the fused max-pool (= out_h/out_w without one) */
  int32_t pool_h, pool_w;    /**< fused max-pool window; 1 x 1 = none */
  int32_t pool_stride_h, pool_stride_w;
  /** conv2d / pointwise, s8 input x s8 / s1 weights: [out_c] sum of each output channel's
   *  k_h * k_w * in_c weights (as dq_dense_params.w_sum); NULL: computed by the kernel. */
  const int32_t *w_sum;
} dq_conv_params;

/** Pooling: input [in_h][in_w][c] -> output [out_h][out_w][c]; padded positions are ignored. */
typedef struct {
  int32_t in_h, in_w, c;
  int32_t out_h, out_w;
  int32_t pool_h, pool_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
} dq_pool_params;

/** Element-wise and per-channel ops over rows rows of c channels. */
typedef struct {
  int32_t rows;          /**< number of pixels (product of all but the last dimension) */
  int32_t c;             /**< channels (last dimension) */
  float scale;           /**< conversions from s8: real = scale * (q - zp) */
  float inv_scale;       /**< conversions to s8: q = clamp(round_half_even(x * inv_scale), q_min, q_max) + zp */
  int32_t zp;
  int32_t q_min, q_max;
} dq_elementwise_params;

/** Concatenation along channels of n inputs, each [rows][c_i], into [rows][sum c_i]. */
typedef struct {
  int32_t rows;
  int32_t n;              /**< number of inputs, >= 1 */
  const int32_t *c;       /**< [n] channels of each input */
} dq_concat_params;

/* ---- Additions by the kernel generator (gen/) ---------------------------- */

/**
 * q = clamp(round_half_even(v), q_min, q_max) for q_min <= q_max, both within
 * [-2^23, 2^23]. Written without libm and without depending on the rounding
 * mode so it is bit-exact on every target: clamping first is exact (the
 * bounds are integers), the truncation of a value of magnitude <= 2^23 is
 * exact, and ties are resolved explicitly to the even neighbour.
 * NaN maps to q_min.
 */
static inline int32_t dq_quantize(float v, int32_t q_min, int32_t q_max) {
  int32_t t;
  float frac;
  if (!(v >= (float)q_min)) return q_min;
  if (v > (float)q_max) return q_max;
  t = (int32_t)v;
  frac = v - (float)t;
  if (frac > 0.5f || (frac == 0.5f && (t & 1))) return t + 1;
  if (frac < -0.5f || (frac == -0.5f && (t & 1))) return t - 1;
  return t;
}

/** Bit (0 = +1, 1 = -1) of s1 element i of a packed row. */
static inline uint32_t dq_s1_bit(const uint32_t *row, int32_t i) {
  return (row[i >> 5] >> (i & 31)) & 1u;
}

/*
 * Fast binary dot products (used by the s1 x s1 kernels). The popcount of
 * x ^ w is accumulated per nibble over three words (at most 12 per nibble),
 * then per byte, and the four bytes are summed once per group: about 8
 * instructions per 32 binary MACs on cores without a popcount instruction.
 * On cores with the DSP extension the byte sum is one USADA8 (ACLE
 * __usada8); elsewhere a portable shift-and-add. Results equal the sum of
 * dq_popcount32(x[j] ^ w[j]) exactly.
 */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#define DQ_SUM_BYTES(acc, b) ((acc) = (int32_t)__usada8((b), 0u, (uint32_t)(acc)))
#else
#define DQ_SUM_BYTES(acc, b) do { uint32_t dq_b_ = (b); \
    dq_b_ = (dq_b_ & 0x00FF00FFu) + ((dq_b_ >> 8) & 0x00FF00FFu); \
    (acc) += (int32_t)((dq_b_ + (dq_b_ >> 16)) & 0xFFFFu); } while (0)
#endif

/** Per-nibble popcount of v (each nibble 0..4). */
static inline uint32_t dq_pc_nib(uint32_t v) {
  v = v - ((v >> 1) & 0x55555555u);
  return (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
}

/** Per-byte sum of the nibbles of s. */
static inline uint32_t dq_pc_byte(uint32_t s) {
  return (s & 0x0F0F0F0Fu) + ((s >> 4) & 0x0F0F0F0Fu);
}

/*
 * Sum over j < n of popcount(x[j] ^ w[j]).
 *
 * Three words at a time, a carry-save adder turns the three XORs into ones
 * and twos, which are counted per nibble and summed per byte as
 * ones + 2 * twos (each byte <= 24). On Thumb-2 cores with the DSP extension the
 * group loop is inline assembly: 27 instructions per 96 binary MACs (LDM
 * loads, AND with the modified-immediate masks, shifted-operand adds); GCC's
 * code for the same C keeps the masks in registers it then spills (about 2x
 * more instructions). The bytes of each group are summed by one USADA8;
 * elsewhere by a portable shift-and-add.
 */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#define DQ_ASM_POPCOUNT 1
#elif defined(__GNUC__) && defined(__thumb2__)
/* Thumb-2 without DSP (Cortex-M3): the same group loop, the bytes added up
   in one register instead of by USADA8 */
#define DQ_ASM_POPCOUNT_NODSP 1
#endif

#if defined(DQ_ASM_POPCOUNT) || defined(DQ_ASM_POPCOUNT_NODSP)
/* One group: x ^ w over three words (r4-r6 ^ r8-r10, loaded by LDM),
   carry-save adder, nibble counts; leaves ones + 2 * twos per byte (<= 24)
   in r4. Clobbers r4-r6, r8-r10. */
#define DQ_PC3_GROUP_ASM \
  "ldmia %[x]!, {r4, r5, r6}\n\t" \
  "ldmia %[w]!, {r8, r9, r10}\n\t" \
  "eor r8, r8, r4\n\t" \
  "eor r9, r9, r5\n\t" \
  "eor r10, r10, r6\n\t" \
  "eor r4, r8, r9\n\t" \
  "and r8, r8, r9\n\t" \
  "and r9, r4, r10\n\t" \
  "orr r8, r8, r9\n\t"            /* twos */ \
  "eor r4, r4, r10\n\t"           /* ones */ \
  "and r9, r4, #0xAAAAAAAA\n\t" \
  "sub r4, r4, r9, lsr #1\n\t" \
  "and r9, r8, #0xAAAAAAAA\n\t" \
  "sub r8, r8, r9, lsr #1\n\t" \
  "and r9, r4, #0xCCCCCCCC\n\t" \
  "and r4, r4, #0x33333333\n\t" \
  "add r4, r4, r9, lsr #2\n\t" \
  "and r9, r8, #0xCCCCCCCC\n\t" \
  "and r8, r8, #0x33333333\n\t" \
  "add r8, r8, r9, lsr #2\n\t" \
  "add r4, r4, r8, lsl #1\n\t"    /* ones + 2 * twos per nibble, <= 12 */ \
  "and r9, r4, #0xF0F0F0F0\n\t" \
  "and r4, r4, #0x0F0F0F0F\n\t" \
  "add r4, r4, r9, lsr #4\n\t"    /* per byte, <= 24 */
#endif

/** Sum of popcount(x[j] ^ w[j]) over g groups of three words (g >= 0) and rem (0..2) more words. */
static inline int32_t dq_xor_popcount_g(const uint32_t *x, const uint32_t *w, int32_t g, int32_t rem) {
  int32_t total = 0;
#ifdef DQ_ASM_POPCOUNT
  if (g > 0) {
    /* LDM loads three words in one instruction; fixed registers r4-r6 and
       r8-r10 (never r7, the Thumb frame pointer) because LDM needs an
       ascending register list */
    __asm__ volatile(
        "1:\n\t"
        DQ_PC3_GROUP_ASM
        "usada8 %[t], r4, %[z], %[t]\n\t"
        "subs %[g], %[g], #1\n\t"
        "bne 1b"
        : [x] "+r"(x), [w] "+r"(w), [g] "+r"(g), [t] "+&r"(total)
        : [z] "r"(0u)
        : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory");
  }
#elif defined(DQ_ASM_POPCOUNT_NODSP)
  while (g > 0) {
    /* at most 10 groups per byte accumulator (<= 240 per byte) */
    int32_t n = g < 10 ? g : 10;
    uint32_t acc = 0u;
    g -= n;
    __asm__ volatile(
        "1:\n\t"
        DQ_PC3_GROUP_ASM
        "add %[acc], %[acc], r4\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(n), [acc] "+&r"(acc)
        :
        : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory");
    DQ_SUM_BYTES(total, acc);
  }
#else
  for (; g > 0; --g) {
    DQ_SUM_BYTES(total, dq_pc_byte(dq_pc_nib(x[0] ^ w[0]) + dq_pc_nib(x[1] ^ w[1]) + dq_pc_nib(x[2] ^ w[2])));
    x += 3;
    w += 3;
  }
#endif
  if (rem > 0) {
    uint32_t s = dq_pc_nib(x[0] ^ w[0]);
    if (rem > 1) s += dq_pc_nib(x[1] ^ w[1]);
    DQ_SUM_BYTES(total, dq_pc_byte(s));
  }
  return total;
}

#ifdef DQ_ASM_POPCOUNT
/*
 * pc[o] = dq_xor_popcount(x, w + o * 3 * g, 3 * g) for o < n_rows, with
 * 1 <= g <= 10 and n_rows >= 1: the whole row loop in assembly, so a row
 * costs its groups plus 6 instructions (no call or spill overhead). Rows are
 * contiguous (dense weights, OHWI conv weights).
 */
static inline void dq_xor_popcount_rows(const uint32_t *x, const uint32_t *w, int32_t g, int32_t n_rows, int32_t *pc) {
#ifndef __OPTIMIZE__
  /* -O0 keeps r7 as the frame pointer and cannot give the loop below its
     registers ("impossible constraints"): the same counts row by row */
  int32_t o;
  for (o = 0; o < n_rows; ++o) pc[o] = dq_xor_popcount_g(x, w + (size_t)o * 3u * (size_t)g, g, 0);
#else
  const uint32_t *xp = x;
  uint32_t gc = (uint32_t)g, t;
  /* x and g are kept in an 8-byte stack slot of the asm's own (STRD with
     writeback, released at the end) and reloaded per row by one LDRD: "m"
     operands could be addressed through a register the loop advances */
  __asm__ volatile(
      "strd %[xp], %[gc], [sp, #-8]!\n\t"
      "2:\n\t"
      "ldrd %[xp], %[gc], [sp]\n\t"
      "mov %[t], #0\n\t"
      "1:\n\t"
      "ldmia %[xp]!, {r4, r5, r6}\n\t"
      "ldmia %[w]!, {r8, r9, r10}\n\t"
      "eor r8, r8, r4\n\t"
      "eor r9, r9, r5\n\t"
      "eor r10, r10, r6\n\t"
      "eor r4, r8, r9\n\t"
      "and r8, r8, r9\n\t"
      "and r9, r4, r10\n\t"
      "orr r8, r8, r9\n\t"
      "eor r4, r4, r10\n\t"
      "and r9, r4, #0xAAAAAAAA\n\t"
      "sub r4, r4, r9, lsr #1\n\t"
      "and r9, r8, #0xAAAAAAAA\n\t"
      "sub r8, r8, r9, lsr #1\n\t"
      "and r9, r4, #0xCCCCCCCC\n\t"
      "and r4, r4, #0x33333333\n\t"
      "add r4, r4, r9, lsr #2\n\t"
      "and r9, r8, #0xCCCCCCCC\n\t"
      "and r8, r8, #0x33333333\n\t"
      "add r8, r8, r9, lsr #2\n\t"
      "add r4, r4, r8, lsl #1\n\t"
      "and r9, r4, #0xF0F0F0F0\n\t"
      "and r4, r4, #0x0F0F0F0F\n\t"
      "add r4, r4, r9, lsr #4\n\t"
      "add %[t], %[t], r4\n\t"           /* bytes <= 24 * g <= 240 */
      "subs %[gc], %[gc], #1\n\t"
      "bne 1b\n\t"
      "mov r9, #0\n\t"
      "usad8 %[t], %[t], r9\n\t"         /* sum of the four bytes */
      "str %[t], [%[pc]], #4\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 2b\n\t"
      "add sp, sp, #8"
      : [xp] "+&r"(xp), [gc] "+&r"(gc), [t] "=&r"(t), [w] "+r"(w), [n] "+r"(n_rows), [pc] "+r"(pc)
      :
      : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory");
#endif
}
#endif

/*
 * Row functions of the s1 x s1 kernels (naked, so not inline: GCC would emit
 * these static functions into every file at -O0, hence only when optimizing).
 */
#if defined(DQ_ASM_POPCOUNT) && defined(__OPTIMIZE__)
#define DQ_BIN_ROWS 1
#endif

#ifdef DQ_BIN_ROWS
#define DQ_BIN_GROUP \
    "ldmia r1!, {r4, r5, r6}\n\t" \
    "ldmia r11!, {r8, r9, r10}\n\t" \
    "eor r8, r8, r4\n\t" \
    "eor r9, r9, r5\n\t" \
    "eor r10, r10, r6\n\t" \
    "eor r4, r8, r9\n\t" \
    "and r8, r8, r9\n\t" \
    "and r9, r4, r10\n\t" \
    "orr r8, r8, r9\n\t"              /* twos */ \
    "eor r4, r4, r10\n\t"             /* ones */ \
    "and r9, r4, #0xAAAAAAAA\n\t" \
    "sub r4, r4, r9, lsr #1\n\t" \
    "and r9, r8, #0xAAAAAAAA\n\t" \
    "sub r8, r8, r9, lsr #1\n\t" \
    "and r9, r4, #0xCCCCCCCC\n\t" \
    "and r4, r4, #0x33333333\n\t" \
    "add r4, r4, r9, lsr #2\n\t" \
    "and r9, r8, #0xCCCCCCCC\n\t" \
    "and r8, r8, #0x33333333\n\t" \
    "add r8, r8, r9, lsr #2\n\t" \
    "add r4, r4, r8, lsl #1\n\t"      /* A: ones + 2 * twos per nibble, <= 12 */ \
    "and r9, r4, #0xF0F0F0F0\n\t" \
    "add r3, r3, r9, lsr #4\n\t"      /* Y += high nibbles (bytes <= 12 * g) */ \
    "add r2, r2, r4\n\t"              /* X += A (carries between bytes allowed) */

/** Arguments of dq_bin_thr_rows and dq_bin_cmp_rows. */
typedef struct {
  const uint32_t *x;    /**< K = 3 * g + r words, shared by every row */
  const uint32_t *w;    /**< n_rows contiguous rows of K words */
  int32_t g;            /**< 0 <= g <= DQ_BIN_MAX_G, K >= 1 */
  int32_t n_rows;       /**< >= 1 */
  const void *thr;      /**< dq_bin_thr_rows: int32_t thr[n_rows]; dq_bin_cmp_rows: uint32_t v[n_rows] */
  int32_t n;            /**< dq_bin_thr_rows: dot product = n - 2 * popcount (unused by dq_bin_cmp_rows) */
  uint32_t *out;        /**< [DQ_WORDS(n_rows)] output words */
  int32_t r;            /**< 0..2 */
} dq_bin_args;

/** Most groups of three words per row dq_bin_thr_rows / dq_bin_cmp_rows take. */
#define DQ_BIN_MAX_G 6

/*
 * Shared parts of the two row functions below. A naked function so that all
 * 14 registers are ours (r7 included). A row is one LDM from the stack that
 * resets the input pointer, zeroes both accumulators and jumps (PC in the
 * list) into a straight sequence of DQ_BIN_MAX_G groups at the entry of the
 * row's g groups: no per-group loop cost. A group is 24 instructions per 96
 * binary MACs: instead of a per-byte split in every group, X += A and
 * Y += (A & 0xF0F0F0F0) >> 4 (Y's bytes never overflow), and at the end of
 * the row X - 15 * Y holds the per-byte counts (<= 24 * g), summed by one
 * USAD8. Each row's output bit enters the word through the carry (RRXS); a
 * sentinel bit in the word ends the 32-row loop without a counter. The
 * r = K % 3 first words of a row go through a tail block (entered instead of
 * the groups) that continues at the groups' entry with a load to PC.
 * Registers: r1 input, r2/r3 X/Y, r4-r6 and r8-r10 the words, r11 weights,
 * r12 thresholds, r0 zero, r7 the output word, lr per function.
 */
#define DQ_BIN_PROLOGUE(lr_init) \
    "push {r4-r11, lr}\n\t" \
    "sub sp, sp, #32\n\t" \
    "ldr r4, [r0, #8]\n\t"            /* g */ \
    "adr.w r8, 3f\n\t" \
    "adr.w r9, 4f\n\t" \
    "sub r9, r9, r8\n\t"              /* bytes per group */ \
    "adr.w r10, 5f\n\t" \
    "mls r10, r4, r9, r10\n\t"        /* entry of g groups */ \
    "orr r10, r10, #1\n\t"            /* Thumb bit for the loads to PC */ \
    "str r10, [sp, #28]\n\t"          /* where a tail block continues */ \
    "ldr r5, [r0, #28]\n\t"           /* r: tail words first */ \
    "adr.w r8, 6f\n\t" \
    "adr.w r9, 7f\n\t" \
    "cmp r5, #1\n\t" \
    "it eq\n\t" \
    "orreq r10, r8, #1\n\t" \
    "cmp r5, #2\n\t" \
    "it eq\n\t" \
    "orreq r10, r9, #1\n\t" \
    "ldr r1, [r0, #0]\n\t"            /* x */ \
    "ldr r11, [r0, #4]\n\t"           /* w */ \
    "ldr r5, [r0, #12]\n\t"           /* n_rows */ \
    "ldr r12, [r0, #16]\n\t"          /* thr */ \
    lr_init \
    "ldr r6, [r0, #24]\n\t"           /* out */ \
    "mov r2, #0\n\t" \
    "mov r3, #0\n\t" \
    "stmia sp, {r1, r2, r3, r10}\n\t" /* row start: x, X = 0, Y = 0, entry */ \
    "str r5, [sp, #16]\n\t"           /* rows left */ \
    "str r6, [sp, #20]\n\t"           /* out */ \
    "mov r0, #0\n\t"                  /* zero for USAD8 */ \
    "1:\n\t"                          /* next output word */ \
    "ldr r5, [sp, #16]\n\t" \
    "cmp r5, #32\n\t" \
    "ite gt\n\t" \
    "movgt r4, #32\n\t" \
    "movle r4, r5\n\t"                /* kn rows in this word */ \
    "sub r5, r5, r4\n\t" \
    "str r5, [sp, #16]\n\t" \
    "rsb r5, r4, #32\n\t" \
    "str r5, [sp, #24]\n\t"           /* final shift 32 - kn */ \
    "sub r4, r4, #1\n\t" \
    "mov r7, #1\n\t" \
    "lsl r7, r7, r4\n\t"              /* sentinel: leaves after kn RRXS */ \
    "2:\n\t" \
    "ldmia sp, {r1, r2, r3, pc}\n\t" \
    "3:\n\t" \
    DQ_BIN_GROUP \
    "4:\n\t" \
    DQ_BIN_GROUP \
    DQ_BIN_GROUP \
    DQ_BIN_GROUP \
    DQ_BIN_GROUP \
    DQ_BIN_GROUP \
    "5:\n\t"

#define DQ_BIN_EPILOGUE \
    "rrxs r7, r7\n\t" \
    "bcc 2b\n\t" \
    "ldr r4, [sp, #24]\n\t" \
    "lsr r7, r7, r4\n\t" \
    "ldr r5, [sp, #20]\n\t" \
    "str r7, [r5], #4\n\t" \
    "str r5, [sp, #20]\n\t" \
    "ldr r5, [sp, #16]\n\t" \
    "cmp r5, #0\n\t" \
    "bgt 1b\n\t" \
    "add sp, sp, #32\n\t" \
    "pop {r4-r11, pc}\n\t" \
    "6:\n\t"                          /* tail of one word, then the groups */ \
    "ldr r4, [r1], #4\n\t" \
    "ldr r8, [r11], #4\n\t" \
    "eor r4, r4, r8\n\t" \
    "and r9, r4, #0xAAAAAAAA\n\t" \
    "sub r4, r4, r9, lsr #1\n\t" \
    "and r9, r4, #0xCCCCCCCC\n\t" \
    "and r4, r4, #0x33333333\n\t" \
    "add r4, r4, r9, lsr #2\n\t" \
    "and r9, r4, #0xF0F0F0F0\n\t" \
    "add r3, r3, r9, lsr #4\n\t" \
    "add r2, r2, r4\n\t" \
    "ldr pc, [sp, #28]\n\t" \
    "7:\n\t"                          /* tail of two words, then the groups */ \
    "ldrd r4, r5, [r1], #8\n\t" \
    "ldrd r8, r9, [r11], #8\n\t" \
    "eor r4, r4, r8\n\t" \
    "eor r5, r5, r9\n\t" \
    "and r9, r4, #0xAAAAAAAA\n\t" \
    "sub r4, r4, r9, lsr #1\n\t" \
    "and r9, r5, #0xAAAAAAAA\n\t" \
    "sub r5, r5, r9, lsr #1\n\t" \
    "and r9, r4, #0xCCCCCCCC\n\t" \
    "and r4, r4, #0x33333333\n\t" \
    "add r4, r4, r9, lsr #2\n\t" \
    "and r9, r5, #0xCCCCCCCC\n\t" \
    "and r5, r5, #0x33333333\n\t" \
    "add r5, r5, r9, lsr #2\n\t" \
    "add r4, r4, r5\n\t"              /* <= 8 per nibble */ \
    "and r9, r4, #0xF0F0F0F0\n\t" \
    "add r3, r3, r9, lsr #4\n\t" \
    "add r2, r2, r4\n\t" \
    "ldr pc, [sp, #28]\n\t"

/*
 * For o < n_rows: bit o of out is 1 (-1) iff n - 2 * dq_xor_popcount(x, w + o * K, K) < thr[o]
 * (int32_t thresholds; the s1 output stage without flipped channels), unused high bits of the last
 * word 0. The comparison is QSUB (saturating, so any int32 threshold is exact), its sign goes to the
 * carry: 9 instructions per row besides its groups.
 */
__attribute__((naked, noinline, unused)) static void dq_bin_thr_rows(const dq_bin_args *a __attribute__((unused))) {
  __asm__ volatile(
      DQ_BIN_PROLOGUE("ldr lr, [r0, #20]\n\t")  /* n */
      "sub r2, r2, r3, lsl #4\n\t"
      "add r2, r2, r3\n\t"              /* X - 15 * Y: per-byte counts */
      "usad8 r2, r2, r0\n\t"            /* popcount of the row */
      "ldr r4, [r12], #4\n\t"
      "sub r2, lr, r2, lsl #1\n\t"      /* dot product */
      "qsub r2, r2, r4\n\t"
      "lsls r2, r2, #1\n\t"             /* C = dot < thr */
      DQ_BIN_EPILOGUE);
}

/*
 * For o < n_rows: bit o of out is 1 iff dq_xor_popcount(x, w + o * K, K) >= v[o] (uint32_t
 * v, from dq_bin_cmp_thr), unused high bits of the last word 0. For thresholds reused over many
 * calls (convolutions): 6 instructions per row besides its groups (MLS with 15 in lr, USAD8, LDR,
 * CMP to the carry).
 */
__attribute__((naked, noinline, unused)) static void dq_bin_cmp_rows(const dq_bin_args *a __attribute__((unused))) {
  __asm__ volatile(
      DQ_BIN_PROLOGUE("mov lr, #15\n\t")
      "mls r2, r3, lr, r2\n\t"          /* X - 15 * Y: per-byte counts */
      "usad8 r2, r2, r0\n\t"            /* popcount of the row */
      "ldr r4, [r12], #4\n\t"
      "cmp r2, r4\n\t"                  /* C = popcount >= v */
      DQ_BIN_EPILOGUE);
}
#undef DQ_BIN_GROUP
#undef DQ_BIN_PROLOGUE
#undef DQ_BIN_EPILOGUE

/*
 * v for dq_bin_cmp_rows from an s1 output stage's threshold thr and flip bit fl of a dot product
 * n - 2 * pc (0 <= pc <= n): bit = n - 2 * pc < thr' with thr' = thr + fl, i.e.
 * pc >= floor((n - thr') / 2) + 1, clamped to [0, n + 1]. A flipped channel's bit (-1 iff
 * n - 2 * pc > thr) is then the complement of this one (XOR with the flip word).
 */
static inline uint32_t dq_bin_cmp_thr(int32_t n, int32_t thr, uint32_t fl) {
  const int64_t s = (int64_t)n - (int64_t)thr - (int64_t)fl;
  int64_t v = (s >= 0 ? s / 2 : -((1 - s) / 2)) + 1;
  if (v < 0) v = 0;
  if (v > (int64_t)n + 1) v = (int64_t)n + 1;
  return (uint32_t)v;
}
#endif

/** Sum over j < n of popcount(x[j] ^ w[j]). */
static inline int32_t dq_xor_popcount(const uint32_t *x, const uint32_t *w, int32_t n) {
  return dq_xor_popcount_g(x, w, n / 3, n % 3);
}

/*
 * acc + x * s for s = +1 or -1: the product is exact, so one fused
 * multiply-add rounds exactly like acc + x or acc - x (bit-exact with the
 * reference's add/subtract). Cores with a hardware FMA (VFPv4/FPv5) use one
 * VFMA; elsewhere the product and the sum are separate operations
 * (-ffp-contract=off).
 */
#if defined(__ARM_FEATURE_FMA) && defined(__ARM_FP) && (__ARM_FP & 4)
#define DQ_FMA_PM1(x, s, acc) __builtin_fmaf((x), (s), (acc))
#else
#define DQ_FMA_PM1(x, s, acc) ((acc) + (x) * (s))
#endif

/*
 * DQ_SMALL_STACK: Cortex-M cores without an FPU (M0, M0+: ARMv6-M; M3:
 * ARMv7-M), parts with 8-32 KB of RAM where the stack decides whether a
 * model fits. Kernels there keep every stack buffer small enough for at most
 * 1 KB of stack per kernel, calls included (the s1 gather buffer below: 384 B
 * instead of 2 KB; the f32 x s1 depthwise signs as bits: 64 B instead of
 * 1,152 B); compiler.TestKernelStackSmallCores checks it. Define it (to 1)
 * to get the same code on another target.
 */
#if !defined(DQ_SMALL_STACK) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && !defined(__ARM_FP)
#define DQ_SMALL_STACK 1
#endif

/** Words of the stack buffer the s1 convolutions gather one output pixel's
 *  taps into (fast path; larger layers take the tap-by-tap path). */
#ifdef DQ_SMALL_STACK
#define DQ_GATHER_WORDS 96
#else
#define DQ_GATHER_WORDS 512
#endif

/** Taps (s16, q - zp) the s8 convolutions without SIMD32 gather one output
 *  pixel into (576 B of stack; larger layers take the tap-by-tap loop). */
#define DQ_S8_GATHER 288

/*
 * Conventions the generated kernels follow beyond the fields above:
 *   - dq_output_stage.mul == NULL means 1 and add == NULL means 0; bn_sub,
 *     bn_mul and bn_add are all set or all NULL.
 *   - DQ_PAD_VALUE: a padded tap takes pad_value as the input element value
 *     the kernel multiplies with: x for f32 input, (q - in_zp) for s8 input
 *     (pad_value is then an integer), sign(pad_value) for s1 input.
 *   - Without a fused pool (pool_h * pool_w <= 1) conv_h/conv_w are ignored.
 *     With one, conv_h/conv_w are the convolution's sizes, every pool window
 *     lies inside them, and pool_stride_* >= 1.
 *   - Pooling windows with no valid position return DQ_ERR_SHAPE.
 */

#ifdef __cplusplus
}
#endif
#endif /* DQ_TYPES_H */
