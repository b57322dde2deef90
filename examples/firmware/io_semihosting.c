/*
 * Arm semihosting (bkpt 0xab on M-profile): SYS_WRITE0 for console output,
 * SYS_EXIT_EXTENDED so that QEMU exits with the program's status (plain
 * SYS_EXIT only tells success from failure on AArch32).
 */
#include <stdint.h>

#include "io.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static uintptr_t semihost(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void io_puts(const char *s) { semihost(SYS_WRITE0, s); }

void io_putint(long v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u);
    if (v < 0) {
        *--p = '-';
    }
    io_puts(p);
}

void io_exit(int status)
{
    const uintptr_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)status};
    for (;;) {
        semihost(SYS_EXIT_EXTENDED, block);
    }
}
