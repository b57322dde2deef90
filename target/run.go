package target

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Result is what a program did.
type Result struct {
	Stdout   string // console output (semihosting under QEMU)
	Stderr   string // the program's (host) or the emulator's (QEMU) diagnostics
	ExitCode int    // main's return value; -1 when killed or faulted without one
	Fault    string // "" or what crashed it: "HardFault", "BusFault", "UsageFault", ... (QEMU), "SIGSEGV", "AddressSanitizer", ... (host)
	FaultMsg string // the full fault report line, with PC and fault status registers
	TimedOut bool   // killed after RunOptions.Timeout
	// Instructions holds, for every RunOptions.CountBetween pair {A, B}, the
	// key "A..B": instructions executed from each entry of A to the next
	// entry of B, summed over the run; and "total": every instruction the
	// program executed.
	Instructions map[string]uint64
	// Marks is the log of every entry of a marker symbol, in execution order,
	// with the number of instructions executed before it (when counting).
	Marks []Mark
	// Duration is the wall-clock time of the run.
	Duration time.Duration
}

// Mark is one entry of a marker function.
type Mark struct {
	Symbol string
	Count  uint64 // instructions executed since reset, before the marker's first instruction
}

// OK reports whether the program ran to completion and returned 0.
func (r *Result) OK() bool { return r.Fault == "" && !r.TimedOut && r.ExitCode == 0 }

// Err returns nil for a clean run, else an error that says what went wrong
// (timeout, fault with its report, or a non-zero exit status with stderr).
func (r *Result) Err() error {
	switch {
	case r.TimedOut:
		return errors.New("timed out (the program never finished)")
	case r.Fault != "":
		msg := r.FaultMsg
		if msg == "" {
			msg = r.Fault
		}
		return fmt.Errorf("crashed: %s%s", msg, tail("\n", r.Stderr, 2000))
	case r.ExitCode != 0:
		return fmt.Errorf("exit status %d%s", r.ExitCode, tail("\n", r.Stderr, 2000))
	}
	return nil
}

func tail(prefix, s string, n int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return prefix + s
}

// RunOptions tunes Run.
type RunOptions struct {
	Timeout time.Duration // default 60 s; a program still running then is killed and TimedOut
	// CountBetween lists pairs of marker function symbols {A, B}: count the
	// instructions executed from the entry of A to the entry of B (Cortex-M
	// only). dq_bench_begin/dq_bench_end from dq_rt.h are the usual pair;
	// any function symbol works, and every symbol named here is logged in
	// Result.Marks.
	CountBetween [][2]string
	Dir          string // working directory (semihosting file I/O is relative to it); default: the executable's
	LargeBoard   bool   // the image was built with BuildOptions.LargeBoard
}

// DefaultTimeout is used when RunOptions.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Exit statuses of the Cortex-M fault handlers (rt/dq_rt_arm.c): 240 + id.
var faultNames = map[int]string{240: "Unknown", 241: "NMI", 242: "HardFault", 243: "MemManage", 244: "BusFault", 245: "UsageFault", 246: "SecureFault", 247: "UnexpectedInterrupt"}

var faultLine = regexp.MustCompile(`(?m)^dqnn-fault: (\w+)[^\n]*$`)

// Run runs exe (built by Build for cpu) and reports what it printed, its
// exit status, a crash or a timeout. The returned error is for failures to
// run at all (missing emulator, bad options); a program that crashes or
// hangs is reported in the Result.
func Run(ctx context.Context, cpu CPU, exe string, opt RunOptions) (*Result, error) {
	if err := Available(cpu); err != nil {
		return nil, err
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dir := opt.Dir
	if dir == "" {
		dir = filepath.Dir(exe)
	}
	absExe, err := filepath.Abs(exe)
	if err != nil {
		return nil, err
	}
	if cpu == Host {
		if len(opt.CountBetween) > 0 {
			return nil, fmt.Errorf("target host: instruction counting needs a Cortex-M target (it runs under QEMU)")
		}
		return runHost(ctx, absExe, dir, timeout)
	}
	b, err := cpu.board(opt.LargeBoard)
	if err != nil {
		return nil, err
	}
	return runQEMU(ctx, b.machine, absExe, dir, timeout, opt.CountBetween)
}

func runHost(ctx context.Context, exe, dir string, timeout time.Duration) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	// LeakSanitizer cannot run under ptrace or in some containers and would
	// fail a sanitized build for no fault of its own; dqnn code never allocates.
	cmd.Env = os.Environ()
	if os.Getenv("ASAN_OPTIONS") == "" {
		cmd.Env = append(cmd.Env, "ASAN_OPTIONS=detect_leaks=0")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := &Result{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	if ctx.Err() == context.DeadlineExceeded {
		res.TimedOut, res.ExitCode = true, -1
		return res, nil
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Fault = signalName(ws.Signal())
			res.FaultMsg = "killed by " + res.Fault
		}
		if m := regexp.MustCompile(`ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)[^\n]*`).FindString(res.Stderr); m != "" {
			res.Fault = strings.Fields(strings.TrimPrefix(m, "ERROR: "))[0]
			res.Fault = strings.TrimSuffix(res.Fault, ":")
			res.FaultMsg = m
		} else if m := regexp.MustCompile(`[^\n]*runtime error:[^\n]*`).FindString(res.Stderr); m != "" {
			res.Fault, res.FaultMsg = "UndefinedBehaviorSanitizer", strings.TrimSpace(m)
		}
	default:
		return nil, fmt.Errorf("running %s: %w", exe, err)
	}
	return res, nil
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGBUS:
		return "SIGBUS"
	case syscall.SIGFPE:
		return "SIGFPE"
	case syscall.SIGILL:
		return "SIGILL"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return fmt.Sprintf("signal %d", int(s))
}

func runQEMU(ctx context.Context, machine, exe, dir string, timeout time.Duration, pairs [][2]string) (*Result, error) {
	tmp, err := os.MkdirTemp("", "dqnn-qemu-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	console := filepath.Join(tmp, "console.txt")
	args := []string{
		"-M", machine, "-nographic", "-monitor", "none", "-serial", "none",
		// Semihosting console output goes to its own file, so QEMU's own
		// messages on stdout/stderr can never mix with the program's output.
		"-chardev", "file,id=dqsemi,path=" + console,
		"-semihosting-config", "enable=on,target=native,chardev=dqsemi",
		"-kernel", exe,
	}
	var counter *countSetup
	if len(pairs) > 0 {
		counter, err = setupCount(ctx, exe, pairs, tmp)
		if err != nil {
			return nil, err
		}
		args = append(args, "-plugin", counter.pluginArg())
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, "qemu-system-arm", args...)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Duration: time.Since(start)}
	con, _ := os.ReadFile(console)
	res.Stdout = string(con)
	res.Stderr = strings.TrimSpace(stdout.String() + "\n" + stderr.String())
	if rctx.Err() == context.DeadlineExceeded {
		res.TimedOut, res.ExitCode = true, -1
		return res, nil
	}
	var ee *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		return nil, fmt.Errorf("running qemu-system-arm: %w", runErr)
	}
	if m := faultLine.FindStringSubmatch(res.Stdout); m != nil {
		res.Fault, res.FaultMsg = m[1], strings.TrimPrefix(m[0], "dqnn-fault: ")
		res.Stdout = strings.TrimSuffix(res.Stdout[:strings.LastIndex(res.Stdout, m[0])], "\n")
		res.ExitCode = -1
	} else if name, ok := faultNames[res.ExitCode]; ok && res.ExitCode != 0 {
		res.Fault, res.FaultMsg = name, name+" (exit status "+fmt.Sprint(res.ExitCode)+")"
		res.ExitCode = -1
	} else if strings.Contains(res.Stderr, "Lockup") {
		res.Fault, res.FaultMsg, res.ExitCode = "Lockup", firstLine(res.Stderr, "Lockup"), -1
	}
	if counter != nil {
		if err := counter.collect(res); err != nil {
			if res.Fault != "" || res.ExitCode != 0 {
				return res, nil // the crash is the news; counts are incomplete
			}
			return nil, err
		}
	}
	return res, nil
}

func firstLine(s, sub string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			return sc.Text()
		}
	}
	return sub
}
