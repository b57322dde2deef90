/* dq_rt_arm.c - newlib system calls over Arm semihosting, the benchmark
 * markers and the fault reporter for dqnn's Cortex-M test images under QEMU.
 *
 * Console output uses SYS_WRITE0 (QEMU sends it to the semihosting chardev,
 * which dqnn points at a file): it needs no open handle and no host file
 * system access. The exit status travels through SYS_EXIT_EXTENDED, the only
 * A32/T32 exit call that carries a status code. newlib's own librdimon is not
 * used: its crt0 would replace our startup (which must enable the FPU first)
 * and it needs initialise_monitor_handles() before the first printf.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "dq_rt.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_READ 0x06
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

/* Exit statuses of the fault handlers: 240 + fault id (see startup.S). */
#define DQ_FAULT_EXIT_BASE 240

static int32_t semihost(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void dq_rt_write(const char *s, int32_t n) {
  char buf[129];
  while (n > 0) {
    int32_t k = n < 128 ? n : 128;
    int32_t j = 0;
    for (int32_t i = 0; i < k; i++) {
      if (s[i] != '\0') { /* SYS_WRITE0 stops at NUL: drop NUL bytes */
        buf[j++] = s[i];
      }
    }
    buf[j] = '\0';
    if (j > 0) {
      semihost(SYS_WRITE0, buf);
    }
    s += k;
    n -= k;
  }
}

void dq_rt_puts(const char *s) { semihost(SYS_WRITE0, s); }

void dq_rt_hex32(uint32_t v) {
  char buf[9];
  for (int i = 7; i >= 0; i--) {
    buf[i] = "0123456789abcdef"[v & 15u];
    v >>= 4;
  }
  buf[8] = '\0';
  semihost(SYS_WRITE0, buf);
}

/* Host files over semihosting: SYS_OPEN takes {name, mode, length}, mode 1
 * is "rb"; SYS_READ returns the number of bytes NOT read. */
int32_t dq_rt_open(const char *path) {
  int32_t len = 0;
  while (path[len] != '\0') len++;
  int32_t block[3] = {(int32_t)(uintptr_t)path, 1, len};
  return semihost(SYS_OPEN, block);
}

int32_t dq_rt_read(int32_t h, void *buf, int32_t n) {
  if (h < 0 || n < 0) return -1;
  int32_t block[3] = {h, (int32_t)(uintptr_t)buf, n};
  int32_t left = semihost(SYS_READ, block);
  if (left < 0 || left > n) return -1;
  return n - left;
}

void dq_rt_close(int32_t h) {
  int32_t block[1] = {h};
  if (h >= 0) semihost(SYS_CLOSE, block);
}

__attribute__((noinline)) void dq_bench_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void dq_bench_end(void) { __asm__ volatile(""); }

__attribute__((noreturn)) static void dq_exit(int32_t code) {
  int32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  semihost(SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

/* ---- newlib system calls ---- */

void _exit(int status);
void _exit(int status) { dq_exit(status); }

int _write(int fd, const char *buf, int n);
int _write(int fd, const char *buf, int n) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  dq_rt_write(buf, n);
  return n;
}

int _read(int fd, char *buf, int n);
int _read(int fd, char *buf, int n) {
  (void)fd;
  (void)buf;
  (void)n;
  return 0;
}

int _close(int fd);
int _close(int fd) {
  (void)fd;
  return -1;
}

int _lseek(int fd, int off, int whence);
int _lseek(int fd, int off, int whence) {
  (void)fd;
  (void)off;
  (void)whence;
  return 0;
}

int _fstat(int fd, struct stat *st);
int _fstat(int fd, struct stat *st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd);
int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _getpid(void);
int _getpid(void) { return 1; }

int _kill(int pid, int sig);
int _kill(int pid, int sig) {
  (void)pid;
  dq_exit(128 + sig);
  return -1;
}

/* Heap: from the end of .bss to the end of RAM (symbols from dq_sections.ld). */
extern char _heap_start[], _heap_end[];
void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr) {
  static char *brk = _heap_start;
  if (incr > _heap_end - brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *old = brk;
  brk += incr;
  return old;
}

/* ---- stack painting (dq_stack_paint is in startup.S) ---- */

extern char _sstack[], _estack[];
extern uint32_t dq_stack_base; /* the SP dq_stack_paint was called with (startup.S) */

uint32_t dq_stack_peak(void) {
  const uint32_t *p = (const uint32_t *)(uintptr_t)_sstack;
#if __ARM_ARCH_ISA_THUMB != 1 && !defined(__ARM_ARCH_8M_MAIN__) && !defined(__ARM_ARCH_8_1M_MAIN__)
  p += 2048 / 4; /* v7-M: the MPU guard, never painted */
#endif
  const uint32_t *base = (const uint32_t *)(uintptr_t)dq_stack_base;
  while (p < base && *p == DQ_STACK_PAINT) {
    p++;
  }
  return (uint32_t)((uintptr_t)base - (uintptr_t)p);
}

/* ---- faults ---- */

void dq_fault(uint32_t id, const uint32_t *frame);

static const char *const dq_fault_names[] = {
    "Unknown", "NMI", "HardFault", "MemManage", "BusFault", "UsageFault", "SecureFault", "UnexpectedInterrupt"};

/* Called from startup.S with a fresh stack. Prints one line
 *   dqnn-fault: <name> pc=<hex> lr=<hex> sp=<hex> cfsr=<hex> hfsr=<hex> mmfar=<hex> bfar=<hex>
 * and exits with status 240 + id. */
void dq_fault(uint32_t id, const uint32_t *frame) {
  volatile const uint32_t *scb = (volatile const uint32_t *)0xE000ED00u;
  uint32_t pc = 0, lr = 0;
  if (id > 7) {
    id = 0;
  }
  /* The frame is only trusted when it lies inside the stack. */
  if ((const char *)frame >= _sstack && (const char *)(frame + 8) <= _estack) {
    lr = frame[5];
    pc = frame[6];
  }
  dq_rt_puts("\ndqnn-fault: ");
  dq_rt_puts(dq_fault_names[id]);
  dq_rt_puts(" pc=");
  dq_rt_hex32(pc);
  dq_rt_puts(" lr=");
  dq_rt_hex32(lr);
  dq_rt_puts(" sp=");
  dq_rt_hex32((uint32_t)(uintptr_t)frame);
  dq_rt_puts(" cfsr=");
  dq_rt_hex32(scb[0x28 / 4]);
  dq_rt_puts(" hfsr=");
  dq_rt_hex32(scb[0x2C / 4]);
  dq_rt_puts(" mmfar=");
  dq_rt_hex32(scb[0x34 / 4]);
  dq_rt_puts(" bfar=");
  dq_rt_hex32(scb[0x38 / 4]);
  dq_rt_puts("\n");
  dq_exit(DQ_FAULT_EXIT_BASE + (int32_t)id);
}
