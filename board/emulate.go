package board

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/dqnn/dqnn/target"
)

// Emulator is QEMU running a firmware image on an emulated board, with the
// board's first UART on a pty or a loopback TCP socket: the stand-in for a
// real board in tests and demos.
type Emulator struct {
	// Target is the --target that reaches the UART: "serial:/dev/pts/N" or
	// "tcp:127.0.0.1:PORT".
	Target  string
	dir     string
	monitor string
	cmd     *exec.Cmd
	exited  chan struct{}
}

var ptyLine = regexp.MustCompile(`char device redirected to (/dev/pts/\d+)`)

// Emulate boots elf on b's QEMU machine; link is "pty" or "tcp". Close it
// when done.
func Emulate(ctx context.Context, b Board, elf, link string) (*Emulator, error) {
	if err := target.Available(b.CPU); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dqnn-emulate-")
	if err != nil {
		return nil, err
	}
	e := &Emulator{dir: dir, monitor: filepath.Join(dir, "monitor.sock"), exited: make(chan struct{})}
	serialArg := "pty"
	if link == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		addr := l.Addr().String()
		l.Close() // QEMU takes the port over; a race with another process is reported below
		serialArg = "tcp:" + addr + ",server=on,wait=off"
		e.Target = "tcp:" + addr
	} else if link != "pty" {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("emulate: link %q: want pty or tcp", link)
	}
	e.cmd = exec.CommandContext(ctx, "qemu-system-arm", "-M", b.Machine, "-nographic", "-kernel", elf,
		"-serial", serialArg, "-monitor", "unix:"+e.monitor+",server=on,wait=off")
	// QEMU prints the pty's name on stdout, errors on stderr: read both.
	console, err := e.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e.cmd.Stderr = e.cmd.Stdout
	if err := e.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("emulate: starting qemu-system-arm: %w", err)
	}
	found := make(chan string, 1)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(console)
		for sc.Scan() {
			if m := ptyLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			} else if out.Len() < 4000 {
				out.WriteString(sc.Text() + "\n")
			}
		}
		io.Copy(io.Discard, console)
	}()
	go func() {
		e.cmd.Wait()
		close(e.exited)
	}()
	deadline := time.After(10 * time.Second)
	if link == "pty" {
		select {
		case p := <-found:
			e.Target = "serial:" + p
			return e, nil
		case <-e.exited:
		case <-deadline:
		}
		e.Close()
		return nil, fmt.Errorf("emulate: QEMU %s printed no pty name in 10 s%s", b.Machine, tail(out.String()))
	}
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.Target, "tcp:"))
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			e.Close()
			return nil, fmt.Errorf("emulate: QEMU %s exited before listening on %s%s", b.Machine, e.Target, tail(out.String()))
		case <-deadline:
			e.Close()
			return nil, fmt.Errorf("emulate: QEMU %s does not listen on %s: %v", b.Machine, e.Target, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return ": " + s
}

// Reset presses the board's reset button (the QEMU monitor's system_reset).
func (e *Emulator) Reset() error {
	c, err := net.DialTimeout("unix", e.monitor, 2*time.Second)
	if err != nil {
		return fmt.Errorf("emulate: QEMU monitor: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "system_reset\n"); err != nil {
		return fmt.Errorf("emulate: QEMU monitor: %w", err)
	}
	// The monitor echoes the prompt once the command ran.
	buf := make([]byte, 256)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "system_reset") {
		n, err := c.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("emulate: QEMU monitor did not answer system_reset")
			}
			return fmt.Errorf("emulate: QEMU monitor: %w", err)
		}
	}
	return nil
}

// Close stops QEMU and removes its files.
func (e *Emulator) Close() error {
	if e.cmd.Process != nil {
		e.cmd.Process.Kill()
	}
	<-e.exited
	return os.RemoveAll(e.dir)
}
