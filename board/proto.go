package board

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Version is the protocol version the host speaks and the firmware
// templates implement; a frame of another version is refused.
const Version = 1

// SLIP framing (RFC 1055): every frame starts and ends with frameEnd; the
// two special bytes inside a frame are escaped. A receiver that joins a
// stream mid-frame, or sees garbage, drops bytes up to the next frameEnd.
const (
	frameEnd    = 0xC0
	frameEsc    = 0xDB
	frameEscEnd = 0xDC
	frameEscEsc = 0xDD
)

// Message types: host requests have the high bit clear, board replies set.
const (
	msgHelloReq = 0x01 // host: who are you? (empty body)
	msgRun      = 0x02 // host: flags u8, then every input's float32 values
	msgHello    = 0x81 // board: identity, I/O shapes, capabilities
	msgTrace    = 0x82 // board: one traced tensor of the current run
	msgResult   = 0x83 // board: status, cycles, every output's float32 values
	msgError    = 0x8E // board: code u8, message
)

// Hello flags.
const (
	helloBoot   = 1 << 0 // sent unsolicited after a reset
	helloTraced = 1 << 1 // built with -DDQNN_TRACE: can send per-layer tensors
	helloCycles = 1 << 2 // the cycle counter advances
)

// Run flags.
const runTrace = 1 << 0

// Error codes the firmware sends.
var errorCodes = map[byte]string{
	1: "frame failed its CRC",
	2: "unsupported protocol version",
	3: "unknown message type",
	4: "wrong message length",
	5: "frame longer than the receive buffer",
	6: "fault",
	7: "bad escape sequence",
	8: "tracing asked of a firmware built without it",
}

// frameOverhead is the header (version, type, seq u16) and the CRC-32.
const frameOverhead = 4 + 4

// frame is one decoded message.
type frame struct {
	typ  byte
	seq  uint16
	body []byte
}

// encodeFrame returns the wire bytes of one message.
func encodeFrame(typ byte, seq uint16, body []byte) []byte {
	p := make([]byte, 0, frameOverhead+len(body))
	p = append(p, Version, typ, byte(seq), byte(seq>>8))
	p = append(p, body...)
	p = binary.LittleEndian.AppendUint32(p, crc32.ChecksumIEEE(p))
	out := make([]byte, 0, len(p)+len(p)/32+2)
	out = append(out, frameEnd)
	for _, b := range p {
		switch b {
		case frameEnd:
			out = append(out, frameEsc, frameEscEnd)
		case frameEsc:
			out = append(out, frameEsc, frameEscEsc)
		default:
			out = append(out, b)
		}
	}
	return append(out, frameEnd)
}

// errBadFrame marks a frame dropped on the way (CRC, escape, size): the
// caller may retry the request.
var errBadFrame = errors.New("corrupt frame")

// decoder turns a byte stream into frames, resynchronising on frameEnd.
type decoder struct {
	max     int // largest accepted payload
	buf     []byte
	esc     bool
	bad     string // why the frame being read is already lost
	dropped int    // bytes discarded as garbage or in corrupt frames
}

// feed consumes b and calls emit for every complete frame or corrupt one
// (f == nil, err says why); it stops early when emit returns false and
// returns how many bytes it used.
func (d *decoder) feed(b []byte, emit func(f *frame, err error) bool) int {
	for i, c := range b {
		if c == frameEnd {
			p, bad := d.buf, d.bad
			d.buf, d.bad, d.esc = d.buf[:0], "", false
			if len(p) < frameOverhead && bad == "" {
				// Frame start, back-to-back ends, or a few stray bytes
				// between frames (line noise, a bootloader's chatter): too
				// short to be a frame that lost bytes, so no resend.
				d.dropped += len(p)
				continue
			}
			f, err := parseFrame(p, bad)
			if err != nil {
				d.dropped += len(p)
			}
			if !emit(f, err) {
				return i + 1
			}
			continue
		}
		if d.bad != "" {
			d.dropped++
			continue
		}
		if d.esc {
			d.esc = false
			switch c {
			case frameEscEnd:
				c = frameEnd
			case frameEscEsc:
				c = frameEsc
			default:
				d.bad = fmt.Sprintf("bad escape 0x%02x", c)
				continue
			}
		} else if c == frameEsc {
			d.esc = true
			continue
		}
		if len(d.buf) >= d.max+frameOverhead {
			d.bad = fmt.Sprintf("longer than %d bytes", d.max+frameOverhead)
			d.buf = d.buf[:0]
			continue
		}
		d.buf = append(d.buf, c)
	}
	return len(b)
}

func parseFrame(p []byte, bad string) (*frame, error) {
	if bad != "" {
		return nil, fmt.Errorf("%w: %s", errBadFrame, bad)
	}
	n := len(p) - 4
	if got, want := binary.LittleEndian.Uint32(p[n:]), crc32.ChecksumIEEE(p[:n]); got != want {
		return nil, fmt.Errorf("%w: CRC-32 0x%08x, computed 0x%08x", errBadFrame, got, want)
	}
	if p[0] != Version {
		return nil, fmt.Errorf("the board speaks protocol version %d, this dqnn speaks %d: rebuild the firmware with this dqnn (dqnn firmware)", p[0], Version)
	}
	return &frame{typ: p[1], seq: binary.LittleEndian.Uint16(p[2:]), body: append([]byte(nil), p[4:n]...)}, nil
}

// reader reads the fields of a message body, remembering the first error.
type reader struct {
	b    []byte
	err  error
	what string
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%s message truncated (%d bytes left, %d needed)", r.what, len(r.b), n)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) str8() string { return string(r.take(int(r.u8()))) }

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%s message has %d unexpected trailing bytes", r.what, len(r.b))
	}
	return r.err
}

// Tensor is one model input or output as the firmware declares it.
type Tensor struct {
	DType string `json:"dtype"` // "f32": the library's float API
	Shape []int  `json:"shape"`
}

// Hello is what a board says about itself.
type Hello struct {
	Model   string   `json:"model"`  // the library's C prefix
	SHA256  string   `json:"sha256"` // of the model file(s) the firmware was generated from
	Board   string   `json:"board"`
	CPU     string   `json:"cpu"`
	Traced  bool     `json:"traced"`        // built with tracing: per-layer tensors and cycles
	Cycles  bool     `json:"cycle_counter"` // its cycle counter advances
	RxMax   int      `json:"rx_max"`        // largest frame payload it accepts
	Inputs  []Tensor `json:"inputs"`
	Outputs []Tensor `json:"outputs"`
	boot    bool
}

var dtypeNames = map[byte]string{1: "f32"}

func parseHello(b []byte) (*Hello, error) {
	r := &reader{b: b, what: "hello"}
	flags := r.u8()
	h := &Hello{boot: flags&helloBoot != 0, Traced: flags&helloTraced != 0, Cycles: flags&helloCycles != 0}
	h.RxMax = int(r.u32())
	// Board-supplied text reaches terminals and reports: printable ASCII only.
	h.Model, h.Board, h.CPU = sanitize([]byte(r.str8()), 255), sanitize([]byte(r.str8()), 255), sanitize([]byte(r.str8()), 255)
	sum := r.take(32)
	h.SHA256 = fmt.Sprintf("%x", sum)
	for _, list := range []*[]Tensor{&h.Inputs, &h.Outputs} {
		n := int(r.u8())
		for i := 0; i < n && r.err == nil; i++ {
			dt := r.u8()
			name, ok := dtypeNames[dt]
			if !ok && r.err == nil {
				r.err = fmt.Errorf("hello: unknown dtype %d", dt)
			}
			rank := int(r.u8())
			t := Tensor{DType: name}
			for k := 0; k < rank; k++ {
				t.Shape = append(t.Shape, int(r.u32()))
			}
			*list = append(*list, t)
		}
	}
	return h, r.done()
}

// parseError turns an error message body into an error.
func parseError(b []byte) error {
	if len(b) == 0 {
		return errors.New("the board reported an error without a code")
	}
	what, ok := errorCodes[b[0]]
	if !ok {
		what = fmt.Sprintf("error %d", b[0])
	}
	if len(b) > 1 {
		return fmt.Errorf("the board reported: %s: %s", what, sanitize(b[1:], 200))
	}
	return fmt.Errorf("the board reported: %s", what)
}

// sanitize keeps printable ASCII of a board-supplied string, at most n bytes.
func sanitize(b []byte, n int) string {
	out := make([]byte, 0, min(len(b), n))
	for _, c := range b {
		if len(out) == n {
			break
		}
		if c >= 0x20 && c < 0x7F {
			out = append(out, c)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}

func appendFloats(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func floats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
