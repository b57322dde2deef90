package target

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRegionSizes: the micro:bit's 256 KB of flash and 16 KB of RAM, and a
// size for every Cortex-M board's regions.
func TestRegionSizes(t *testing.T) {
	for _, cpu := range CPUs[1:] {
		s, err := RegionSizes(cpu)
		if err != nil {
			t.Fatalf("%s: %v", cpu, err)
		}
		if cpu == CortexM0 && (s["FLASH"] != 256<<10 || s["RAM"] != 16<<10) {
			t.Errorf("%s: regions %v, want FLASH 262144 and RAM 16384", cpu, s)
		}
	}
	if _, err := RegionSizes(Host); err == nil {
		t.Error("host: region sizes without a linker script")
	}
}

// TestFitError: a program too large for the micro:bit's RAM and flash is a
// *FitError that names both regions with the bytes needed and available;
// the linker's log stays in the message.
func TestFitError(t *testing.T) {
	needs(t, CortexM0)
	src := `#include <stdint.h>
static volatile uint8_t big[20000];
static const uint8_t table[300000] = {1};
int main(void) { big[0] = table[(uintptr_t)&big[1] & 0xff]; return big[0] - 1; }
`
	dir := t.TempDir()
	_, err := Build(context.Background(), CortexM0, []string{writeC(t, dir, "main.c", src)}, nil, dir, BuildOptions{})
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want a *FitError", err)
	}
	got := map[string]Overflow{}
	for _, o := range fe.Overflows {
		got[o.Region] = o
	}
	if r := got["RAM"]; r.Have != 16<<10 || r.Need < 20000+4096 || r.Need > 20000+4096+2048 {
		t.Errorf("RAM %+v, want 16,384 B available and about 24 KB (the array and the 4 KB stack reserve) needed", r)
	}
	if f := got["FLASH"]; f.Have != 256<<10 || f.Need < 300000 || f.Need > 300000+16384 {
		t.Errorf("FLASH %+v, want 262,144 B available and about 300,000 B needed", f)
	}
	msg := err.Error()
	for _, want := range []string{"does not fit the microbit's memory", "available 16,384 B", "available 262,144 B", "overflowed by"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	t.Logf("%s", strings.SplitN(msg, "\n", 2)[0])
}

// TestLargeBoard: an M0 image whose data does not fit the micro:bit runs on
// the large board (mps2-an385); only M0 and M0+ have one.
func TestLargeBoard(t *testing.T) {
	needs(t, CortexM0)
	const big = `#include <stdint.h>
static volatile uint8_t big[40000];
int main(void) { big[39999] = 7; return big[39999]; }
`
	dir := t.TempDir()
	src := []string{writeC(t, dir, "main.c", big)}
	if _, err := Build(context.Background(), CortexM0, src, nil, dir, BuildOptions{}); err == nil {
		t.Fatal("40 KB of data fit the micro:bit")
	}
	exe, err := Build(context.Background(), CortexM0, src, nil, dir, BuildOptions{LargeBoard: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), CortexM0, exe, RunOptions{Timeout: 30 * time.Second, LargeBoard: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || res.Fault != "" {
		t.Errorf("40 KB of data on %s: exit %d fault %q, want exit 7", CortexM0.LargeBoardMachine(), res.ExitCode, res.Fault)
	}
	if _, err := CortexM4.board(true); err == nil {
		t.Error("cortex-m4 has no large board, but board(true) gave one")
	}
}
