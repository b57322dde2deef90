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

/* Handles index a small table of open files (test programs open one or two). */
static FILE *dq_rt_files[8];

int32_t dq_rt_open(const char *path) {
  for (int32_t h = 0; h < (int32_t)(sizeof dq_rt_files / sizeof dq_rt_files[0]); h++) {
    if (dq_rt_files[h] == NULL) {
      dq_rt_files[h] = fopen(path, "rb");
      return dq_rt_files[h] != NULL ? h : -1;
    }
  }
  return -1;
}

int32_t dq_rt_read(int32_t h, void *buf, int32_t n) {
  if (h < 0 || h >= (int32_t)(sizeof dq_rt_files / sizeof dq_rt_files[0]) || dq_rt_files[h] == NULL || n < 0) return -1;
  size_t got = fread(buf, 1, (size_t)n, dq_rt_files[h]);
  if (got < (size_t)n && ferror(dq_rt_files[h])) return -1;
  return (int32_t)got;
}

void dq_rt_close(int32_t h) {
  if (h >= 0 && h < (int32_t)(sizeof dq_rt_files / sizeof dq_rt_files[0]) && dq_rt_files[h] != NULL) {
    fclose(dq_rt_files[h]);
    dq_rt_files[h] = NULL;
  }
}
