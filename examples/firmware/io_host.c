/* The firmware example's console on the host: stdio. */
#include <stdio.h>
#include <stdlib.h>

#include "io.h"

void io_puts(const char *s) { fputs(s, stdout); }

void io_putint(long v) { printf("%ld", v); }

void io_exit(int status)
{
    fflush(stdout);
    exit(status);
}
