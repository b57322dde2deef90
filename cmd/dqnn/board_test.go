package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/board"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/target"
)

// TestFirmwareValidateBenchOverSerial is the user's path end to end: dqnn
// firmware writes and builds the traced firmware, QEMU's netduinoplus2 runs
// it with USART1 on a pty, dqnn validate --target serial:PTY --per-layer
// --json passes as --target cortex-m4 does, and dqnn bench --target
// serial:PTY lists the layers and says the cycles are unavailable.
func TestFirmwareValidateBenchOverSerial(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short: the serial link under QEMU runs in the full suite")
	}
	testenv.Need(t, "QEMU and arm-none-eabi-gcc", target.Available(target.CortexM4))
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if rc := run([]string{"firmware", validateExample, "--board", "netduinoplus2", "--trace", "-o", dir}, &out, &errb); rc != 0 {
		t.Fatalf("firmware: exit %d\n%s%s", rc, out.String(), errb.String())
	}
	for _, f := range []string{"firmware.elf", "CMakeLists.txt", "BUILD.bazel", "dqfw_main.c", "dqfw_port_stm32_usart.c", "mnist_bnn.c", "startup.S", "ld/netduinoplus2.ld", "ld/dq_sections.ld"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("firmware output: %v", err)
		}
	}
	e, err := board.Emulate(context.Background(), board.Boards["netduinoplus2"], filepath.Join(dir, "firmware.elf"), "pty")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	out.Reset()
	errb.Reset()
	args := []string{"validate", validateExample, "--inputs", "../../examples/mnist_bnn/samples.inputs.npy", "--per-layer", "--json", "--target", e.Target}
	if rc := run(args, &out, &errb); rc != 0 {
		t.Fatalf("validate over serial: exit %d\n%s%s", rc, out.String(), errb.String())
	}
	var rep struct {
		Schema string `json:"schema"`
		Model  string `json:"model"`
		Target string `json:"target"`
		Pass   bool   `json:"pass"`
		Layers []struct {
			CID  int  `json:"c_id"`
			Pass bool `json:"pass"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if !rep.Pass || len(rep.Layers) == 0 || !strings.Contains(rep.Target, "netduinoplus2") || rep.Schema != "dqnn.validate/1" || rep.Model != "mnist_bnn.h5" || rep.Layers[0].CID != 0 {
		t.Errorf("report %+v, want a dqnn.validate/1 PASS of mnist_bnn.h5 with layers from c_id 0 on netduinoplus2", rep)
	}
	if !strings.Contains(errb.String(), "cycles unavailable") || !strings.Contains(errb.String(), "8/8 samples") {
		t.Errorf("stderr lacks the progress bar or the cycle note:\n%s", errb.String())
	}

	out.Reset()
	errb.Reset()
	if rc := run([]string{"bench", validateExample, "--target", e.Target}, &out, &errb); rc != 0 {
		t.Fatalf("bench over serial: exit %d\n%s%s", rc, out.String(), errb.String())
	}
	for _, want := range []string{"cycles unavailable", "quant_conv2d_1/input_quantizer", "activation"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if rc := run([]string{"bench", validateExample, "--json", "--target", e.Target}, &out, &errb); rc != 0 {
		t.Fatalf("bench --json over serial: exit %d\n%s", rc, errb.String())
	}
	var br struct {
		Schema       string `json:"schema"`
		CycleCounter bool   `json:"cycle_counter"`
		Total        *int   `json:"total_cycles"`
		Layers       []struct {
			CID    int    `json:"c_id"`
			Layer  string `json:"layer"`
			Cycles *int   `json:"cycles"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &br); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out.String())
	}
	if br.Schema != "dqnn.board-bench/1" || br.CycleCounter || br.Total != nil || len(br.Layers) == 0 || br.Layers[0].CID != 0 || br.Layers[0].Layer == "" || br.Layers[0].Cycles != nil {
		t.Errorf("bench --json %+v: want dqnn.board-bench/1, no cycle counter and no counts, layers from c_id 0", br)
	}

	// Another model's hash: the same firmware is refused by name and hash.
	out.Reset()
	errb.Reset()
	other := filepath.Join(t.TempDir(), "mnist_bnn.h5")
	data, err := os.ReadFile(validateExample)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, append(data, 0), 0o644); err != nil { // same model, other bytes
		t.Fatal(err)
	}
	if rc := run([]string{"validate", other, "--samples", "1", "--target", e.Target}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "the board runs model \"mnist_bnn\"") {
		t.Errorf("another model's file: exit %d, want 1 with a refusal\n%s", rc, errb.String())
	}
	e.Close() // the board's last use: its idle firmware keeps QEMU busy polling the UART
	if rc := run([]string{"validate", validateExample, "--target", "serial:"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "no port named") {
		t.Errorf("serial: without a port: exit %d\n%s", rc, errb.String())
	}
	if rc := run([]string{"firmware", validateExample, "--board", "pdp11", "-o", dir}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "microbit") {
		t.Errorf("--board pdp11: exit %d, want 2 and the list of boards\n%s", rc, errb.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"firmware", validateExample, "-o", dir}, "missing --board BOARD"},
		{[]string{"firmware", validateExample, "--board", "mps2-an386"}, "missing -o DIR"},
		{[]string{"firmware", "--board", "mps2-an386", "-o", dir}, "missing MODEL"},
	} {
		errb.Reset()
		if rc := run(c.args, &out, &errb); rc != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("dqnn %v: exit %d, want 2 and %q\n%s", c.args, rc, c.want, errb.String())
		}
	}
}
