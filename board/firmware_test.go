package board

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
)

// TestFirmwareCompilesStrict compiles the firmware's own C (protocol loop
// and port) of every board, traced and not, with arm-none-eabi-gcc at
// several optimisation levels and with the host's gcc and clang, all
// warnings as errors. (The model library is checked by its own tests.)
func TestFirmwareCompilesStrict(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: skipped")
	}
	testenv.NeedCmd(t, "arm-none-eabi-gcc")
	strict := []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes", "-ffp-contract=off"}
	models := map[target.CPU]model{}
	for _, name := range BoardNames() {
		b := Boards[name]
		if _, ok := models[b.CPU]; !ok {
			models[b.CPU] = compileModel(t, exampleModel, b.CPU)
		}
		for _, trace := range []bool{false, true} {
			files, err := Firmware(models[b.CPU].g, models[b.CPU].lib, b, FirmwareOptions{Trace: trace})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "ld"), 0o755)
			for n, data := range files {
				if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			srcs := []string{"dqfw_main.c"}
			if !trace { // the port does not depend on tracing
				srcs = append(srcs, "dqfw_port_"+b.Port+".c")
			}
			defs := append([]string(nil), b.Defines...)
			if trace {
				defs = append(defs, "-DDQNN_TRACE")
			}
			var cmds [][]string
			for _, o := range []string{"-O0", "-O3", "-Os"} {
				cmds = append(cmds, append(append(append([]string{"arm-none-eabi-gcc", o, "-mthumb"}, b.CPU.CFlags()...), strict...), defs...))
			}
			for _, cc := range []string{"gcc", "clang"} {
				if _, err := exec.LookPath(cc); err == nil {
					cmds = append(cmds, append(append([]string{cc, "-O2", "-fsyntax-only"}, strict...), defs...))
				}
			}
			for _, c := range cmds {
				for _, src := range srcs {
					args := append(append([]string(nil), c[1:]...), "-I", dir)
					if !strings.Contains(strings.Join(args, " "), "-fsyntax-only") {
						args = append(args, "-c", "-o", filepath.Join(dir, "x.o"))
					}
					out, err := exec.Command(c[0], append(args, filepath.Join(dir, src))...).CombinedOutput()
					if err != nil {
						t.Errorf("%s trace=%v: %s %s: %v\n%s", name, trace, c[0], strings.Join(args, " "), err, out)
					}
				}
			}
		}
	}
}
