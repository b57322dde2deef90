package target

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Overflow is one memory region a program did not fit.
type Overflow struct {
	Region     string // FLASH or RAM, as the board's linker script names it
	Need, Have uint64 // bytes the image needs in the region, and its size
}

// FitError reports a program that is too large for the board's memory: the
// linker's "region `RAM' overflowed by N bytes" as needed vs available, so
// that a model that cannot fit a small core (the micro:bit's 16 KB of RAM,
// 256 KB of flash) is refused with the figures rather than a linker log.
type FitError struct {
	CPU       CPU
	Overflows []Overflow
	Log       string // the linker's output and the command, as for any failed build
}

func (e *FitError) Error() string { return e.Summary() + "\n" + e.Log }

// Summary is the error's first line: what does not fit, needed vs available.
func (e *FitError) Summary() string {
	var parts []string
	for _, o := range e.Overflows {
		what := "RAM (data, bss and the runtime's stack reserve)"
		if o.Region != "RAM" {
			what = o.Region + " (code and constants)"
		}
		parts = append(parts, fmt.Sprintf("%s needed %s B, available %s B", what, group(o.Need), group(o.Have)))
	}
	return fmt.Sprintf("target %s: the program does not fit the %s's memory: %s", e.CPU, e.CPU.Machine(), strings.Join(parts, "; "))
}

var overflowLine = regexp.MustCompile("region `([A-Za-z_]+)' overflowed by ([0-9]+) bytes")

// fitError returns the FitError for a failed link's output, or nil when the
// output reports no region overflow (or names a region the board's linker
// script does not size).
func fitError(cpu CPU, out, log string) *FitError {
	sizes, err := RegionSizes(cpu)
	if err != nil {
		return nil
	}
	e := &FitError{CPU: cpu, Log: log}
	seen := map[string]bool{}
	for _, m := range overflowLine.FindAllStringSubmatch(out, -1) {
		have, ok := sizes[m[1]]
		n, err := strconv.ParseUint(m[2], 10, 64)
		if !ok || err != nil || seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		e.Overflows = append(e.Overflows, Overflow{Region: m[1], Need: have + n, Have: have})
	}
	if len(e.Overflows) == 0 {
		return nil
	}
	return e
}

var regionLine = regexp.MustCompile(`(?m)^\s*([A-Za-z_]+)\s*\([a-z]+\)\s*:\s*ORIGIN\s*=\s*0x[0-9A-Fa-f]+\s*,\s*LENGTH\s*=\s*([0-9]+)([KM]?)\s*$`)

// RegionSizes returns the sizes in bytes of the memory regions (FLASH, RAM)
// of cpu's linker script.
func RegionSizes(cpu CPU) (map[string]uint64, error) {
	if !cpu.IsCortexM() {
		return nil, fmt.Errorf("target %s: no linker script", cpu)
	}
	b, err := RuntimeFile("ld/" + cpu.LinkerScript())
	if err != nil {
		return nil, err
	}
	sizes := map[string]uint64{}
	for _, m := range regionLine.FindAllStringSubmatch(string(b), -1) {
		n, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil {
			return nil, err
		}
		switch m[3] {
		case "K":
			n <<= 10
		case "M":
			n <<= 20
		}
		sizes[m[1]] = n
	}
	if sizes["RAM"] == 0 || sizes["FLASH"] == 0 {
		return nil, fmt.Errorf("target %s: %s sizes no FLASH and RAM regions", cpu, cpu.LinkerScript())
	}
	return sizes, nil
}

// group prints n with thousands separators (1063057 -> "1,063,057").
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
