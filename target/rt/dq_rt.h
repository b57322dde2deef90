/* dq_rt.h - the small runtime dqnn links into its test and benchmark programs
 * (host and Cortex-M under QEMU). Not part of a generated model library. */
#ifndef DQ_RT_H
#define DQ_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marker: called right before the code to measure. Never inlined; its entry
 *  address is what the instruction counter watches. */
void dq_bench_begin(void);

/** Marker: called right after the code to measure. */
void dq_bench_end(void);

/** Writes n bytes to the console (stdout on the host, semihosting under QEMU). */
void dq_rt_write(const char *s, int32_t n);

/** Writes a NUL-terminated string to the console. */
void dq_rt_puts(const char *s);

/** Writes v as 8 lower-case hex digits (no prefix). */
void dq_rt_hex32(uint32_t v);

/** Stack painting: dq_stack_paint() fills the free stack below the
 *  caller's SP with DQ_STACK_PAINT; dq_stack_peak() then returns how many
 *  bytes below that SP the calls in between wrote at most (the stack they
 *  needed). Cortex-M only; on the host both do nothing and the peak is 0. */
#define DQ_STACK_PAINT 0x5AC3A5C3u
void dq_stack_paint(void);
uint32_t dq_stack_peak(void);

/** Opens a host file for reading in binary mode (under QEMU through
 *  semihosting, relative to QEMU's working directory), so a program can read
 *  more data than the target's memory holds. Returns a handle >= 0, or -1. */
int32_t dq_rt_open(const char *path);

/** Reads up to n bytes from handle h into buf; returns the bytes read
 *  (fewer than n only at the end of the file), or -1 on error. */
int32_t dq_rt_read(int32_t h, void *buf, int32_t n);

/** Closes handle h. */
void dq_rt_close(int32_t h);

#ifdef __cplusplus
}
#endif
#endif /* DQ_RT_H */
