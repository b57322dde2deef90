// Package board validates and times a generated model library on a real
// (or emulated) microcontroller over a serial link: it renders the
// validation firmware (the library, a protocol loop and a small port layer
// for the board's UART and cycle counter) and is the host side of its
// protocol, a validate.Device.
//
//	files, err := board.Firmware(g, lib, board.Boards["netduinoplus2"], board.FirmwareOptions{})
//	dev, err := board.Open("serial:/dev/ttyACM0,115200", board.Options{})
//	rep, err := validate.Check(ctx, g, lib, inputs, validate.CheckOptions{Device: dev})
//
// The protocol (SLIP frames, CRC-32, a hello with the model's identity,
// run, trace, result and error messages) is specified in docs/board.md.
package board

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// Board is a microcontroller board the firmware has a port for.
type Board struct {
	Name    string     // "netduinoplus2"
	CPU     target.CPU // the core the library is compiled for
	Machine string     // the QEMU machine that emulates it (qemu-system-arm -M)
	Port    string     // port layer source: fw/dqfw_port_<Port>.c
	// Script is the linker script: a file of fw/ when set, else the CPU's
	// runtime script from package target.
	Script  string
	Defines []string // port configuration for this board (-D...)
}

// Boards lists the supported boards by name.
var Boards = map[string]Board{
	// STM32F405, USART1 at 0x40011000: QEMU's first -serial.
	"netduinoplus2": {Name: "netduinoplus2", CPU: target.CortexM4, Machine: "netduinoplus2", Port: "stm32_usart", Script: "netduinoplus2.ld"},
	// CMSDK UART0 at 0x40004000: QEMU's first -serial (hw/arm/mps2.c).
	"mps2-an386": {Name: "mps2-an386", CPU: target.CortexM4, Machine: "mps2-an386", Port: "cmsdk_uart"},
	// CMSDK UART0, secure alias of 0x49303000 (hw/arm/mps2-tz.c): the image runs secure.
	"mps3-an547": {Name: "mps3-an547", CPU: target.CortexM55, Machine: "mps3-an547", Port: "cmsdk_uart", Defines: []string{"-DDQFW_UART_BASE=0x59303000u"}},
	// BBC micro:bit, nRF51822 (Cortex-M0): UART0 at 0x40002000, QEMU's first -serial (hw/arm/microbit.c).
	"microbit": {Name: "microbit", CPU: target.CortexM0, Machine: "microbit", Port: "nrf51_uart"},
}

// BoardNames returns the names of Boards, sorted.
func BoardNames() []string {
	var n []string
	for k := range Boards {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LookupBoard returns the board called name, or an error listing the boards.
func LookupBoard(name string) (Board, error) {
	b, ok := Boards[name]
	if !ok {
		return Board{}, fmt.Errorf("unknown board %q (want one of %s)", name, strings.Join(BoardNames(), ", "))
	}
	return b, nil
}

func (b Board) linkerScript() string {
	if b.Script != "" {
		return b.Script
	}
	return b.CPU.LinkerScript()
}

//go:embed fw
var fwFS embed.FS

var fwTmpl = template.Must(template.New("fw").Funcs(sprig.HermeticTxtFuncMap()).Option("missingkey=error").ParseFS(fwFS, "fw/*.tmpl"))

type fwIO struct {
	Index       int
	Elems       int
	FloatOffset int // into the run message's input values
	SizeMacro   string
	Shape       []int
}

// fwData is what the firmware templates render.
type fwData struct {
	Name, Board, CPU, SHA256 string
	SHA256Bytes              string // C initializer
	Version                  int
	Inputs, Outputs          []fwIO
	Multi                    bool
	InBytes                  int
	Sources                  []string // C and assembly sources, sorted
	CFlags, LinkFlags        []string
	CPUFlags, Defines        []string
	LinkerScript             string
	BazelConfig              string
}

// FirmwareOptions tunes Firmware.
type FirmwareOptions struct {
	Trace bool // build with -DDQNN_TRACE: per-layer tensors and cycles
}

// firmwareCFlags are the compile flags besides target.BaseCFlags and the CPU's.
var firmwareCFlags = []string{"-mthumb", "-ffunction-sections", "-fdata-sections"}

// firmwareLinkFlags: newlib-nano for memcpy and libm, the runtime's own startup.
var firmwareLinkFlags = []string{"--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments"}

// Firmware returns the files of the validation firmware for lib (compiled
// from g for b.CPU with float I/O and lib.SHA256 set): the library, the
// protocol loop, the port, the runtime's startup code and linker scripts,
// CMakeLists.txt and BUILD.bazel. Paths are relative ("ld/..." for scripts).
func Firmware(g *ir.Graph, lib validate.Library, b Board, opt FirmwareOptions) (map[string][]byte, error) {
	if len(lib.SHA256) != 64 {
		return nil, fmt.Errorf("firmware for %s: the library carries no model sha256 (the graph was not imported from files: ir.Graph.SHA256)", lib.Name)
	}
	d := fwData{Name: lib.Name, Board: b.Name, CPU: string(b.CPU), SHA256: lib.SHA256, Version: Version,
		Multi: len(g.Inputs) > 1 || len(g.Outputs) > 1, LinkerScript: b.linkerScript(),
		BazelConfig: strings.ReplaceAll(string(b.CPU), "-", "_"),
		CPUFlags:    b.CPU.CFlags(), LinkFlags: firmwareLinkFlags}
	d.CFlags = append(append([]string(nil), target.BaseCFlags...), firmwareCFlags...)
	d.Defines = append(d.Defines, b.Defines...)
	if opt.Trace {
		d.Defines = append(d.Defines, "-DDQNN_TRACE")
	}
	var sum []string
	for i := 0; i < 64; i += 2 {
		sum = append(sum, "0x"+lib.SHA256[i:i+2])
	}
	d.SHA256Bytes = strings.Join(sum, ", ")
	inMacros, outMacros := validate.SizeMacros(g, lib.Name)
	for i, t := range g.Inputs {
		n := ir.NumElements(t.Shape)
		d.Inputs = append(d.Inputs, fwIO{Index: i, Elems: n, FloatOffset: d.InBytes / 4, SizeMacro: inMacros[i], Shape: t.Shape})
		d.InBytes += 4 * n
	}
	for i, t := range g.Outputs {
		d.Outputs = append(d.Outputs, fwIO{Index: i, Elems: ir.NumElements(t.Shape), SizeMacro: outMacros[i], Shape: t.Shape})
	}
	if strings.HasPrefix(lib.Name, "user_") {
		return nil, fmt.Errorf("firmware for %s: user_*.c files are the user's own board set-up; give the library another name (--name)", lib.Name)
	}
	files := map[string][]byte{}
	for n, b := range lib.Files {
		if n != filepath.Base(n) || strings.HasPrefix(n, "dqfw_") {
			return nil, fmt.Errorf("firmware for %s: library file %q clashes with the firmware's names", lib.Name, n)
		}
		files[n] = b
	}
	for _, n := range []string{"dqfw_port.h", "dqfw_dwt.h", "dqfw_port_" + b.Port + ".c"} {
		src, err := fwFS.ReadFile("fw/" + n)
		if err != nil {
			return nil, err
		}
		files[n] = src
	}
	if b.Script != "" {
		src, err := fwFS.ReadFile("fw/" + b.Script)
		if err != nil {
			return nil, err
		}
		files["ld/"+b.Script] = src
	}
	for _, n := range []string{"startup.S", "ld/dq_sections.ld", "ld/" + d.LinkerScript} {
		if _, ok := files[n]; ok {
			continue
		}
		src, err := target.RuntimeFile(n)
		if err != nil {
			return nil, fmt.Errorf("board %s: runtime file %s: %w", b.Name, n, err)
		}
		files[n] = src
	}
	files["dqfw_main.c"] = nil // rendered below, listed as a source now
	for n := range files {
		if strings.HasSuffix(n, ".c") || strings.HasSuffix(n, ".S") {
			d.Sources = append(d.Sources, n)
		}
	}
	sort.Strings(d.Sources)
	for n, t := range map[string]string{"dqfw_main.c": "dqfw_main.c.tmpl", "CMakeLists.txt": "CMakeLists.txt.tmpl", "BUILD.bazel": "BUILD.bazel.tmpl"} {
		var buf bytes.Buffer
		if err := fwTmpl.ExecuteTemplate(&buf, t, d); err != nil {
			return nil, fmt.Errorf("firmware for %s: %w", lib.Name, err)
		}
		files[n] = buf.Bytes()
	}
	return files, nil
}

// Build compiles the firmware in dir (as Firmware wrote it) with
// arm-none-eabi-gcc into dir/firmware.elf and returns its path.
func Build(ctx context.Context, dir string, b Board, opt FirmwareOptions) (string, error) {
	if _, err := exec.LookPath("arm-none-eabi-gcc"); err != nil {
		return "", fmt.Errorf("building the firmware: arm-none-eabi-gcc not found; install with: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	args := append(append(append([]string(nil), target.BaseCFlags...), firmwareCFlags...), b.CPU.CFlags()...)
	args = append(args, b.Defines...)
	if opt.Trace {
		args = append(args, "-DDQNN_TRACE")
	}
	args = append(args, firmwareLinkFlags...)
	ld := filepath.Join(dir, "ld")
	args = append(args, "-T", filepath.Join(ld, b.linkerScript()), "-L", ld, "-I", dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".c") || strings.HasSuffix(n, ".S") {
			args = append(args, filepath.Join(dir, n))
		}
	}
	elf := filepath.Join(dir, "firmware.elf")
	args = append(args, "-o", elf, "-lm")
	cmd := exec.CommandContext(ctx, "arm-none-eabi-gcc", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the firmware for %s: arm-none-eabi-gcc: %v\n%s", b.Name, err, strings.TrimSpace(out.String()))
	}
	return elf, nil
}
