package board

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"go.bug.st/serial"
)

// DefaultBaud is the serial speed when a serial: target names none.
const DefaultBaud = 115200

// IsLinkTarget reports whether a --target value names a serial link
// ("serial:PORT[,BAUD]" or "tcp:HOST:PORT") rather than a CPU.
func IsLinkTarget(s string) bool {
	return strings.HasPrefix(s, "serial:") || strings.HasPrefix(s, "tcp:")
}

// dial opens the link a target names.
func dial(spec string, timeout time.Duration) (io.ReadWriteCloser, error) {
	switch {
	case strings.HasPrefix(spec, "serial:"):
		path, baudText, hasBaud := strings.Cut(strings.TrimPrefix(spec, "serial:"), ",")
		baud := DefaultBaud
		if hasBaud {
			b, err := strconv.Atoi(baudText)
			if err != nil || b <= 0 || b > 20_000_000 {
				return nil, fmt.Errorf("%s: baud rate %q is not a positive number (e.g. serial:/dev/ttyACM0,115200)", spec, baudText)
			}
			baud = b
		}
		if path == "" {
			return nil, fmt.Errorf("%s: no port named (e.g. serial:/dev/ttyACM0)", spec)
		}
		p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			return nil, fmt.Errorf("%s: opening the serial port: %w (boards usually appear as /dev/ttyACM* or /dev/ttyUSB* on Linux, /dev/cu.* on macOS, COM* on Windows)", spec, err)
		}
		return p, nil
	case strings.HasPrefix(spec, "tcp:"):
		addr := strings.TrimPrefix(spec, "tcp:")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: want tcp:HOST:PORT: %w", spec, err)
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("target %q: want serial:PORT[,BAUD] or tcp:HOST:PORT", spec)
}
