package target

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const optimizeC = `#include <stdio.h>
int main(void) {
#ifdef __OPTIMIZE__
  puts("optimized");
#else
  puts("not optimized");
#endif
  return 0;
}
`

// TestUserCFlags checks that the user's flags replace dqnn's language,
// optimisation and contraction flags (not append to them) and that the
// program is really built with them.
func TestUserCFlags(t *testing.T) {
	t.Parallel()
	for _, cpu := range []CPU{Host, CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			for _, c := range []struct {
				flags []string
				want  string
			}{{nil, "not optimized"}, {[]string{"-O1", "-std=gnu11"}, "optimized"}} {
				opt := BuildOptions{UserCFlags: c.flags, UseUserCFlags: true}
				cmd, err := CompileCommand(cpu, opt)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range CodeCFlags {
					if slices.Contains(cmd.CFlags, f) {
						t.Errorf("user flags %q: dqnn's %s is still given: %s", c.flags, f, cmd)
					}
				}
				for _, f := range append(c.flags, WarnCFlags...) {
					if !slices.Contains(cmd.CFlags, f) {
						t.Errorf("user flags %q: %s missing: %s", c.flags, f, cmd)
					}
				}
				dir := t.TempDir()
				exe, err := Build(context.Background(), cpu, []string{writeC(t, dir, "main.c", optimizeC)}, nil, dir, opt)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK() || strings.TrimSpace(res.Stdout) != c.want {
					t.Errorf("user flags %q: printed %q (%v), want %q", c.flags, res.Stdout, res.Err(), c.want)
				}
			}
			cmd, err := CompileCommand(cpu, BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range BaseCFlags {
				if !slices.Contains(cmd.CFlags, f) {
					t.Errorf("default build lacks %s: %s", f, cmd)
				}
			}
		})
	}
	if _, err := CompileCommand(CortexM4, BuildOptions{Compiler: "clang"}); err == nil || !strings.Contains(err.Error(), "arm-none-eabi-gcc") {
		t.Errorf("clang for Cortex-M: error %v, want one naming arm-none-eabi-gcc", err)
	}
}

const readFileC = `#include <stdio.h>
#include <stdint.h>
#include "dq_rt.h"
int main(void) {
  char buf[5];
  int32_t sum = 0, n;
  if (dq_rt_open("no-such-file.bin") >= 0) return 2;
  int32_t h = dq_rt_open("data.bin");
  if (h < 0) return 3;
  while ((n = dq_rt_read(h, buf, (int32_t)sizeof buf)) > 0) {
    for (int32_t i = 0; i < n; i++) sum += (uint8_t)buf[i];
    printf("%d ", (int)n);
  }
  dq_rt_close(h);
  printf("sum %d\n", (int)sum);
  return n;
}
`

// TestReadFile reads a host file in chunks with dq_rt_read (stdio on the
// host, semihosting under QEMU) and checks its bytes and the end of file.
func TestReadFile(t *testing.T) {
	t.Parallel()
	for _, cpu := range []CPU{Host, CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			needs(t, cpu)
			exe := build(t, cpu, readFileC)
			data := make([]byte, 13)
			sum := 0
			for i := range data {
				data[i] = byte(200 + i)
				sum += int(data[i])
			}
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/data.bin", data, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), cpu, exe, RunOptions{Timeout: 30 * time.Second, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			want := "5 5 3 sum " + strconv.Itoa(sum) + "\n"
			if !res.OK() || res.Stdout != want {
				t.Errorf("printed %q (%v), want %q", res.Stdout, res.Err(), want)
			}
		})
	}
}
