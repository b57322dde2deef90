/* startup.S - vector table and reset handler for dqnn's Cortex-M test images.
 *
 * Written in assembly so that no compiler-generated code (which may use the
 * FPU or, on the M55, MVE) runs before the FPU is enabled.
 * Layout symbols come from dq_sections.ld.
 * The common code uses only 16-bit Thumb instructions that ARMv6-M has
 * (Cortex-M0/M0+); the v7-M/v8-M set-up (MPU guard, fault enables, VTOR,
 * FPU) is assembled only where the architecture has it.
 */
	.syntax unified
	.thumb

	.section .vectors, "a"
	.align 9
	.globl dq_vectors
dq_vectors:
	.word _estack              /* 0: initial main stack pointer */
	.word Reset_Handler        /* 1 */
	.word dq_nmi_handler       /* 2: NMI */
	.word dq_hardfault_handler /* 3: HardFault */
	.word dq_memmanage_handler /* 4: MemManage */
	.word dq_busfault_handler  /* 5: BusFault */
	.word dq_usagefault_handler/* 6: UsageFault */
	.word dq_securefault_handler /* 7: SecureFault (v8-M), reserved on v7-M */
	.word dq_other_handler     /* 8-10: reserved */
	.word dq_other_handler
	.word dq_other_handler
	.word dq_other_handler     /* 11: SVCall */
	.word dq_other_handler     /* 12: DebugMonitor */
	.word dq_other_handler     /* 13: reserved */
	.word dq_other_handler     /* 14: PendSV */
	.word dq_other_handler     /* 15: SysTick */
	.rept 96                   /* external interrupts: none is enabled, but be safe */
	.word dq_other_handler
	.endr

	.text
	.thumb_func
	.globl Reset_Handler
	.type Reset_Handler, %function
Reset_Handler:
	ldr r0, =_estack
	mov sp, r0
#if __ARM_ARCH_ISA_THUMB == 1
	/* ARMv6-M: no MPU on the nRF51's Cortex-M0, no configurable faults,
	 * no VTOR (the table is at address 0). The stack sits at the bottom of
	 * RAM (dq_sections.ld), so an overflow runs into unmapped memory below
	 * it and faults. */
#else
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
	/* v8-M: a stack overflow raises a precise UsageFault (STKOF). */
	ldr r0, =_sstack
	msr msplim, r0
#else
	/* v7-M: a 2 KB no-access MPU region at the bottom of the stack
	 * (larger than any frame dqnn code has) turns an overflow into a MemManage
	 * fault; below RAM the MPS2 boards
	 * do not fault, and the stack would run on through code and vectors.
	 * Region 0, everything else uses the default memory map (PRIVDEFENA). */
	ldr r0, =0xE000ED98        /* MPU_RNR */
	movs r1, #0
	str r1, [r0]
	ldr r0, =0xE000ED9C        /* MPU_RBAR: base, 2 KB aligned */
	ldr r1, =_sstack
	str r1, [r0]
	ldr r0, =0xE000EDA0        /* MPU_RASR: XN, AP=no access, SIZE=2^(10+1), enable */
	ldr r1, =((1 << 28) | (10 << 1) | 1)
	str r1, [r0]
	ldr r0, =0xE000ED94        /* MPU_CTRL: PRIVDEFENA | ENABLE */
	movs r1, #5
	str r1, [r0]
	dsb
	isb
#endif
	/* Point VTOR at our table (QEMU already does, real boards may not). */
	ldr r0, =0xE000ED08
	ldr r1, =dq_vectors
	str r1, [r0]
	/* Enable usage faults for divide by zero, bus and memory faults as
	 * their own exceptions (SHCSR), so the report names them. */
	ldr r0, =0xE000ED24
	ldr r1, [r0]
	orr r1, r1, #(7 << 16)
	str r1, [r0]
	ldr r0, =0xE000ED14        /* CCR: trap divide by zero */
	ldr r1, [r0]
	orr r1, r1, #(1 << 4)
	str r1, [r0]
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
	/* CPACR: full access to CP10 and CP11 (FPU, MVE) before any float instruction. */
	ldr r0, =0xE000ED88
	ldr r1, [r0]
	orr r1, r1, #(0xF << 20)
	str r1, [r0]
	dsb
	isb
#endif
#endif /* __ARM_ARCH_ISA_THUMB == 1 */
	/* Copy .data from its load address, zero .bss. */
	ldr r0, =_sidata
	ldr r1, =_sdata
	ldr r2, =_edata
1:	cmp r1, r2
	bhs 2f
	ldr r3, [r0]
	str r3, [r1]
	adds r0, r0, #4
	adds r1, r1, #4
	b 1b
2:	ldr r1, =_sbss
	ldr r2, =_ebss
	movs r3, #0
3:	cmp r1, r2
	bhs 4f
	str r3, [r1]
	adds r1, r1, #4
	b 3b
4:	bl main
	bl exit                    /* newlib's exit: flushes stdio, then _exit -> semihosting */
5:	b 5b
	.size Reset_Handler, . - Reset_Handler

/* Every fault vector: r0 = fault id, r1 = the stack frame pointer at the
 * fault; then move SP to a safe place (the old one may be what
 * overflowed) and report through semihosting. */
	.macro DQ_FAULT name, id
	.thumb_func
	.globl \name
	.type \name, %function
\name:
	movs r0, #\id
	b dq_fault_entry
	.size \name, . - \name
	.endm

	DQ_FAULT dq_nmi_handler, 1
	DQ_FAULT dq_hardfault_handler, 2
	DQ_FAULT dq_memmanage_handler, 3
	DQ_FAULT dq_busfault_handler, 4
	DQ_FAULT dq_usagefault_handler, 5
	DQ_FAULT dq_securefault_handler, 6
	DQ_FAULT dq_other_handler, 7

	.thumb_func
	.type dq_fault_entry, %function
dq_fault_entry:
	mov r2, lr
	movs r3, #4
	tst r2, r3
	bne 9f
	mrs r1, msp
	b 10f
9:	mrs r1, psp
10:
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
	movs r2, #0
	msr msplim, r2
#endif
	/* New stack: just below the frame when the frame is inside the stack
	 * with room to spare (so the frame survives), else the top of the stack. */
	ldr r2, =_sstack + 512
	cmp r1, r2
	blo 7f
	ldr r3, =_estack
	cmp r1, r3
	bhs 7f
	movs r2, #7
	mov r3, r1
	bics r3, r3, r2
	mov sp, r3
	b 8f
7:	ldr r2, =_estack
	mov sp, r2
8:	bl dq_fault
6:	b 6b
	.size dq_fault_entry, . - dq_fault_entry

/* dq_stack_paint: records the caller's SP in dq_stack_base and fills the
 * free stack below it with DQ_STACK_PAINT words, so dq_stack_peak can find
 * the deepest word a following call wrote. No frame of its own: the base is
 * exactly the SP the caller's next call starts from. On v7-M the lowest
 * 2 KB are the MPU guard and stay unpainted. */
	.thumb_func
	.globl dq_stack_paint
	.type dq_stack_paint, %function
dq_stack_paint:
	mov r0, sp
	ldr r1, =dq_stack_base
	str r0, [r1]
	ldr r1, =_sstack
#if !(__ARM_ARCH_ISA_THUMB == 1) && !defined(__ARM_ARCH_8M_MAIN__) && !defined(__ARM_ARCH_8_1M_MAIN__)
	ldr r2, =2048
	adds r1, r1, r2
#endif
	ldr r2, =0x5AC3A5C3        /* DQ_STACK_PAINT in dq_rt.h */
11:	cmp r1, r0
	bhs 12f
	str r2, [r1]
	adds r1, r1, #4
	b 11b
12:	bx lr
	.size dq_stack_paint, . - dq_stack_paint

/* dq_stack_base lives here, beside its only writer, so that an image that
 * links this startup code without dq_rt_arm.c (dqnn firmware) links. */
	.bss
	.align 2
	.globl dq_stack_base
	.type dq_stack_base, %object
dq_stack_base:
	.space 4
	.size dq_stack_base, 4
	.text

	.pool
