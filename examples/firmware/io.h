/*
 * Console output and exit for the firmware example: Arm semihosting on the
 * Cortex-M boards (io_semihosting.c), stdio on the host (io_host.c).
 */
#ifndef FIRMWARE_IO_H
#define FIRMWARE_IO_H

/* io_puts writes a NUL-terminated string to the console. */
void io_puts(const char *s);

/* io_putint writes a decimal integer to the console. */
void io_putint(long v);

/* io_exit ends the program with the given status (QEMU's exit status). */
__attribute__((noreturn)) void io_exit(int status);

#endif
