package target

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// StackReserved returns the size of the stack region linked into a
// Cortex-M image (_estack - _sstack, from rt/ld/dq_sections.ld).
func StackReserved(ctx context.Context, exe string) (uint64, error) {
	out, err := exec.CommandContext(ctx, "arm-none-eabi-nm", exe).Output()
	if err != nil {
		return 0, fmt.Errorf("arm-none-eabi-nm %s: %w", exe, err)
	}
	addr := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && (f[2] == "_sstack" || f[2] == "_estack") {
			if a, err := strconv.ParseUint(f[0], 16, 64); err == nil {
				addr[f[2]] = a
			}
		}
	}
	lo, ok1 := addr["_sstack"]
	hi, ok2 := addr["_estack"]
	if !ok1 || !ok2 || hi < lo {
		return 0, fmt.Errorf("%s: no _sstack/_estack symbols (not linked with dqnn's runtime)", exe)
	}
	return hi - lo, nil
}
