// Package target builds C programs for the host or for an emulated Cortex-M
// board and runs them: natively, or under qemu-system-arm with semihosting
// console output, fault reporting, a timeout and, on request, exact counts of
// executed instructions between marker functions (a QEMU TCG plugin).
//
// Cortex-M images link a small embedded runtime (startup code, one linker
// script per board, newlib system calls over semihosting) so that a test
// program is an ordinary C99 main() that prints to stdout:
//
//	exe, err := target.Build(ctx, target.CortexM4, []string{"main.c"}, nil, dir, target.BuildOptions{})
//	res, err := target.Run(ctx, target.CortexM4, exe, target.RunOptions{Timeout: time.Minute})
//
// A program that faults is reported in Result.Fault ("HardFault",
// "UsageFault", ...), one that never finishes in Result.TimedOut; neither
// is ever a pass.
package target

import (
	"fmt"
	"os/exec"
	"strings"
)

// CPU names a place a program runs: the host, or one Cortex-M core emulated
// by QEMU on an Arm MPS2/MPS3 board or a BBC micro:bit.
type CPU string

// The supported CPUs.
const (
	Host         CPU = "host"
	CortexM0     CPU = "cortex-m0"
	CortexM0Plus CPU = "cortex-m0plus"
	CortexM3     CPU = "cortex-m3"
	CortexM4     CPU = "cortex-m4"
	CortexM7     CPU = "cortex-m7"
	CortexM33    CPU = "cortex-m33"
	CortexM55    CPU = "cortex-m55"
)

// CPUs lists every supported CPU, host first.
var CPUs = []CPU{Host, CortexM0, CortexM0Plus, CortexM3, CortexM4, CortexM7, CortexM33, CortexM55}

// board describes how a Cortex-M CPU is compiled and emulated.
type board struct {
	machine string   // qemu-system-arm -M
	script  string   // linker script in rt/ld
	flags   []string // arm-none-eabi-gcc CPU flags
}

// boards: memory maps checked against QEMU 7.2's hw/arm/mps2.c,
// mps2-tz.c and nrf51_soc.c; the M33 and M55 run in secure state, so their
// images are linked at the secure aliases. QEMU has no Cortex-M0+ board: the
// M0+ image (same ARMv6-M instruction set) runs on the micro:bit's M0.
// Cores without an FPU use the soft-float ABI.
var boards = map[CPU]board{
	CortexM0:     {"microbit", "microbit.ld", []string{"-mcpu=cortex-m0", "-mfloat-abi=soft"}},
	CortexM0Plus: {"microbit", "microbit.ld", []string{"-mcpu=cortex-m0plus", "-mfloat-abi=soft"}},
	CortexM3:     {"mps2-an385", "mps2-an385.ld", []string{"-mcpu=cortex-m3", "-mfloat-abi=soft"}},
	CortexM4:     {"mps2-an386", "mps2-an386.ld", []string{"-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"}},
	CortexM7:     {"mps2-an500", "mps2-an500.ld", []string{"-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"}},
	CortexM33:    {"mps2-an505", "mps2-an505.ld", []string{"-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"}},
	CortexM55:    {"mps3-an547", "mps3-an547.ld", []string{"-mcpu=cortex-m55", "-mfloat-abi=hard"}},
}

// largeBoards run an ARMv6-M image whose data does not fit the micro:bit's
// 16 KB of RAM: the same image (compiled for the M0/M0+, linked for the
// MPS2 memory map) on the AN385's Cortex-M3, which executes every ARMv6-M
// instruction as an M0 does (QEMU traps unaligned accesses on neither
// board). Only the memory is larger, and a stack overflow does not fault
// there (RAM does not start at the bottom of a hole).
var largeBoards = map[CPU]board{
	CortexM0:     {"mps2-an385", "mps2-an385.ld", boards[CortexM0].flags},
	CortexM0Plus: {"mps2-an385", "mps2-an385.ld", boards[CortexM0Plus].flags},
}

// HasLargeBoard reports whether c's images can also run on a board with more
// memory than its own (BuildOptions.LargeBoard).
func (c CPU) HasLargeBoard() bool { _, ok := largeBoards[c]; return ok }

// LargeBoardMachine returns the QEMU machine of c's large board ("" if none).
func (c CPU) LargeBoardMachine() string { return largeBoards[c].machine }

// board returns the board an image for c is linked for and run on.
func (c CPU) board(large bool) (board, error) {
	if !large {
		return boards[c], nil
	}
	b, ok := largeBoards[c]
	if !ok {
		return board{}, fmt.Errorf("target %s: no larger board to run on (only cortex-m0 and cortex-m0plus have one)", c)
	}
	return b, nil
}

// ParseCPU returns the CPU named s ("host", "cortex-m0", "cortex-m0plus",
// "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"; "m4",
// "m0+" and the like are accepted too).
func ParseCPU(s string) (CPU, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.Replace(t, "+", "plus", 1)
	if strings.HasPrefix(t, "m") && len(t) > 1 && t[1] >= '0' && t[1] <= '9' {
		t = "cortex-" + t
	}
	for _, c := range CPUs {
		if string(c) == t {
			return c, nil
		}
	}
	names := make([]string, len(CPUs))
	for i, c := range CPUs {
		names[i] = string(c)
	}
	return "", fmt.Errorf("unknown target %q (want one of %s)", s, strings.Join(names, ", "))
}

// IsCortexM reports whether c runs under QEMU.
func (c CPU) IsCortexM() bool { _, ok := boards[c]; return ok }

// Machine returns the QEMU machine that emulates c ("" for the host).
func (c CPU) Machine() string { return boards[c].machine }

// LinkerScript returns the file name of c's linker script in the runtime's
// ld directory (see WriteRuntime); "" for the host.
func (c CPU) LinkerScript() string { return boards[c].script }

// CFlags returns the compiler flags that select c's instruction set and
// floating-point ABI (nil for the host).
func (c CPU) CFlags() []string { return append([]string(nil), boards[c].flags...) }

// tool is an external program and the Debian package that provides it.
type tool struct{ name, pkg string }

func (c CPU) tools() []tool {
	if c == Host {
		return []tool{{"cc", "gcc"}}
	}
	return []tool{
		{"arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi"},
		{"arm-none-eabi-nm", "binutils-arm-none-eabi"},
		{"arm-none-eabi-size", "binutils-arm-none-eabi"},
		{"qemu-system-arm", "qemu-system-arm"},
	}
}

// Available returns nil if the compiler and emulator for cpu are installed,
// else an error that names the Debian packages to install.
func Available(cpu CPU) error {
	if cpu != Host && !cpu.IsCortexM() {
		_, err := ParseCPU(string(cpu))
		return err
	}
	var missing, pkgs []string
	for _, t := range cpu.tools() {
		if _, err := exec.LookPath(t.name); err != nil {
			missing = append(missing, t.name)
			pkgs = append(pkgs, t.pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("target %s: %s not found; install with: apt-get install %s", cpu, strings.Join(missing, ", "), strings.Join(dedup(pkgs), " "))
	}
	return nil
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
