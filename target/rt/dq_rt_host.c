/* dq_rt_host.c - the host build of dqnn's test runtime: the same markers and
 * console helpers as the Cortex-M runtime, over stdio. */
#include <stdio.h>

#include "dq_rt.h"

__attribute__((noinline)) void dq_bench_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void dq_bench_end(void) { __asm__ volatile(""); }

void dq_rt_write(const char *s, int32_t n) { fwrite(s, 1, (size_t)n, stdout); }

void dq_rt_puts(const char *s) { fputs(s, stdout); }

void dq_rt_hex32(uint32_t v) { printf("%08lx", (unsigned long)v); }

void dq_stack_paint(void) {}
uint32_t dq_stack_peak(void) { return 0; }
