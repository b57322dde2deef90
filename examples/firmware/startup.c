/*
 * Startup code for the firmware example on QEMU's MPS2/MPS3 Cortex-M boards:
 * the vector table, the reset handler (copy .data, clear .bss, enable the
 * FPU, run main, exit through semihosting with main's return value) and
 * fault handlers that exit with a distinctive status instead of hanging.
 */
#include <stdint.h>

#include "io.h"

/* Symbols from ld/sections.ld. */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

int main(void);

/* Exit statuses of the fault handlers: 100 + exception number. */
#define FAULT_STATUS(n) (100 + (n))

void Reset_Handler(void);

static void fault(int exception, const char *name)
{
    io_puts("fault: ");
    io_puts(name);
    io_puts("\n");
    io_exit(FAULT_STATUS(exception));
}

static void NMI_Handler(void) { fault(2, "NMI"); }
static void HardFault_Handler(void) { fault(3, "HardFault"); }
static void MemManage_Handler(void) { fault(4, "MemManage"); }
static void BusFault_Handler(void) { fault(5, "BusFault"); }
static void UsageFault_Handler(void) { fault(6, "UsageFault"); }
static void SecureFault_Handler(void) { fault(7, "SecureFault"); }
static void Unexpected_Handler(void) { fault(15, "unexpected interrupt"); }

typedef void (*vector)(void);

/* Cortex-M vector table: initial stack pointer, then the exception handlers.
 * SecureFault (7) exists on Armv8-M (M33, M55) and is reserved on M4/M7. */
__attribute__((section(".vectors"), used)) static const vector vectors[16] = {
    (vector)(uintptr_t)_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0,
    0,
    0,
    Unexpected_Handler, /* SVCall */
    Unexpected_Handler, /* DebugMonitor */
    0,
    Unexpected_Handler, /* PendSV */
    Unexpected_Handler, /* SysTick */
};

/* Coprocessor Access Control Register: CP10/CP11 full access (bits 20-23)
 * must be set before the first floating-point instruction. */
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void)
{
    uint32_t *src = _sidata, *dst = _sdata;
    while (dst < _edata) {
        *dst++ = *src++;
    }
    for (dst = _sbss; dst < _ebss; dst++) {
        *dst = 0;
    }
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    io_exit(main());
}
