package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// Options tunes a Conn. Every wait has a deadline: nothing blocks forever.
type Options struct {
	// HelloTimeout bounds the wait for the board's hello; the request is
	// resent every second meanwhile (a board that was resetting answers the
	// next one). Default 5 s.
	HelloTimeout time.Duration
	// ReplyTimeout bounds the silence while a sample runs: from the request
	// to the first reply, and between replies. Default 10 s; a model that
	// runs longer on its board needs more.
	ReplyTimeout time.Duration
	// Retries is how often a request is resent after a corrupt frame in
	// either direction. Default 3.
	Retries int
	// Progress, if set, receives a progress line on runs of several samples.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 5 * time.Second
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 10 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
}

// Conn is the host end of a link to a board running the validation
// firmware. It implements validate.Device. Not safe for concurrent use.
type Conn struct {
	name   string
	rw     io.ReadWriteCloser
	opt    Options
	chunks chan []byte
	done   chan struct{}
	once   sync.Once
	rerr   error // why the reader stopped, valid once chunks is closed
	dec    decoder
	queue  []decoded
	seq    uint16
	hello  *Hello
	// Cycles holds, after Run, each sample's measured cycles; CyclesOK
	// says whether the counter ran (false: cycles unavailable).
	Cycles   []uint32
	CyclesOK bool
}

type decoded struct {
	f   *frame
	err error
}

// Open connects to the board a target names: "serial:/dev/ttyACM0[,BAUD]"
// (8N1, default 115200 baud) or "tcp:HOST:PORT" (a serial-to-TCP bridge, or
// QEMU's -serial tcp:...).
func Open(spec string, opt Options) (*Conn, error) {
	opt.defaults()
	rw, err := dial(spec, opt.HelloTimeout)
	if err != nil {
		return nil, err
	}
	return NewConn(spec, rw, opt), nil
}

// NewConn speaks the protocol over rw (an open link called name).
func NewConn(name string, rw io.ReadWriteCloser, opt Options) *Conn {
	opt.defaults()
	c := &Conn{name: name, rw: rw, opt: opt, chunks: make(chan []byte, 64), done: make(chan struct{}), dec: decoder{max: 1 << 16}}
	go c.read()
	return c
}

// read moves bytes from the link to the chunks channel until the link fails
// or the Conn is closed.
func (c *Conn) read() {
	defer close(c.chunks)
	buf := make([]byte, 4096)
	for {
		n, err := c.rw.Read(buf)
		if n > 0 {
			select {
			case c.chunks <- append([]byte(nil), buf[:n]...):
			case <-c.done:
				return
			}
		}
		if err != nil {
			c.rerr = err
			return
		}
	}
}

// Close closes the link.
func (c *Conn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.done)
		err = c.rw.Close()
	})
	return err
}

// String names the link and, once known, the board.
func (c *Conn) String() string {
	if c.hello != nil {
		return fmt.Sprintf("%s (%s)", c.name, c.hello.Board)
	}
	return c.name
}

// CPU is the core the board's firmware was built for (known after Hello).
func (c *Conn) CPU() target.CPU {
	if c.hello == nil {
		return ""
	}
	return target.CPU(c.hello.CPU)
}

var errTimeout = errors.New("timeout")

// next returns the next decoded frame (or corrupt-frame error), waiting
// until deadline.
func (c *Conn) next(ctx context.Context, deadline time.Time) (*frame, error) {
	for len(c.queue) == 0 {
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, errTimeout
		}
		t := time.NewTimer(wait)
		select {
		case b, ok := <-c.chunks:
			t.Stop()
			if !ok {
				err := c.rerr
				if err == nil || err == io.EOF {
					err = errors.New("end of stream")
				}
				return nil, fmt.Errorf("%s: the link closed: %w", c.name, err)
			}
			c.dec.feed(b, func(f *frame, err error) bool {
				c.queue = append(c.queue, decoded{f, err})
				return true
			})
		case <-t.C:
			return nil, errTimeout
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	d := c.queue[0]
	c.queue = c.queue[1:]
	return d.f, d.err
}

func (c *Conn) send(typ byte, body []byte) (uint16, error) {
	c.seq++
	if c.seq == 0xFFFF { // reserved for the board's replies to unreadable frames
		c.seq = 1
	}
	if err := c.write(encodeFrame(typ, c.seq, body)); err != nil {
		return 0, err
	}
	return c.seq, nil
}

// write sends b whole, within ReplyTimeout. go.bug.st/serial's Write is a
// single write(2), which a signal (the Go runtime preempts with SIGURG) can
// cut short or interrupt: a frame cut short would leave the board waiting
// for the rest. And a board that stopped reading would block a write
// forever once the buffers fill: then the link is closed.
func (c *Conn) write(b []byte) error {
	done := make(chan error, 1)
	go func() {
		stalls := 0
		for len(b) > 0 {
			n, err := c.rw.Write(b)
			if n > 0 {
				b, stalls = b[n:], 0
			}
			switch {
			case err != nil && !errors.Is(err, syscall.EINTR):
				done <- fmt.Errorf("%s: writing: %w", c.name, err)
				return
			case n <= 0:
				if stalls++; stalls > 100 {
					done <- fmt.Errorf("%s: writing: no progress", c.name)
					return
				}
			}
		}
		done <- nil
	}()
	t := time.NewTimer(c.opt.ReplyTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		c.Close() // unblocks the write
		return fmt.Errorf("%s: the board takes no data: a write blocked for %v (is it running? hardware flow control on a port without it?)", c.name, c.opt.ReplyTimeout)
	}
}

// Hello asks the board who it is; it resends the request every second
// until HelloTimeout.
func (c *Conn) Hello(ctx context.Context) (*Hello, error) {
	deadline := time.Now().Add(c.opt.HelloTimeout)
	sent, corrupt := 0, 0
	for time.Now().Before(deadline) {
		seq, err := c.send(msgHelloReq, nil)
		if err != nil {
			return nil, err
		}
		sent++
		retry := time.Now().Add(time.Second)
		if retry.After(deadline) {
			retry = deadline
		}
		for {
			f, err := c.next(ctx, retry)
			if err == errTimeout {
				break
			}
			if errors.Is(err, errBadFrame) {
				corrupt++
				continue
			}
			if err != nil {
				return nil, err
			}
			if f.seq != seq {
				continue // a boot hello, or a reply to an older request
			}
			switch f.typ {
			case msgHello:
				h, err := parseHello(f.body)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.name, err)
				}
				if !target.CPU(h.CPU).IsCortexM() {
					return nil, fmt.Errorf("%s: the board reports CPU %q, which dqnn does not know", c.name, h.CPU)
				}
				c.hello = h
				return h, nil
			case msgError:
				return nil, fmt.Errorf("%s: %w", c.name, parseError(f.body))
			}
		}
	}
	return nil, fmt.Errorf("%s: no hello from the board in %v (%d requests sent, %d bytes of garbage and %d corrupt frames received): check that the validation firmware (dqnn firmware) runs on it, that this is its port, and the baud rate",
		c.name, c.opt.HelloTimeout, sent, c.dec.dropped, corrupt)
}

// check refuses a board that runs another model than lib (compiled from g).
func (h *Hello) check(g *ir.Graph, lib validate.Library) error {
	if h.Model != lib.Name || h.SHA256 != lib.SHA256 {
		return fmt.Errorf("the board runs model %q (sha256 %.12s...), not %q (sha256 %.12s...): flash the firmware that `dqnn firmware MODEL --board %s` writes",
			h.Model, h.SHA256, lib.Name, lib.SHA256, h.Board)
	}
	for _, side := range []struct {
		what  string
		board []Tensor
		model []*ir.Tensor
	}{{"input", h.Inputs, g.Inputs}, {"output", h.Outputs, g.Outputs}} {
		if len(side.board) != len(side.model) {
			return fmt.Errorf("the board's model has %d %ss, this one %d", len(side.board), side.what, len(side.model))
		}
		for i, t := range side.model {
			b := side.board[i]
			if b.DType != "f32" || fmt.Sprint(b.Shape) != fmt.Sprint(t.Shape) {
				return fmt.Errorf("the board's %s %d is %s %v, the model's %q is f32 %v", side.what, i, b.DType, b.Shape, t.Name, t.Shape)
			}
		}
	}
	return nil
}

// sample is what one run returned.
type sample struct {
	status   int32
	cycles   uint32
	cyclesOK bool
	outputs  []byte
	traces   []trace
}

type trace struct {
	name   string
	dtype  int
	cycles uint32
	data   []byte
}

// errRetry marks a run lost on the link: resend it.
var errRetry = errors.New("lost on the link")

// runSample runs one sample (its inputs' float32 values, concatenated).
func (c *Conn) runSample(ctx context.Context, in []byte, traced bool, index int) (*sample, error) {
	body := make([]byte, 1, 1+len(in))
	if traced {
		body[0] = runTrace
	}
	body = append(body, in...)
	if c.hello != nil && len(body) > c.hello.RxMax {
		return nil, fmt.Errorf("sample %d: %d bytes, the board accepts %d", index, len(body), c.hello.RxMax)
	}
	var last error
	for attempt := 0; attempt <= c.opt.Retries; attempt++ {
		seq, err := c.send(msgRun, body)
		if err != nil {
			return nil, err
		}
		s, err := c.await(ctx, seq, index)
		if errors.Is(err, errRetry) {
			last = err
			continue
		}
		return s, err
	}
	return nil, fmt.Errorf("sample %d: %d attempts lost on the link (last: %v): check the baud rate, the cable and that nothing else uses the port", index, c.opt.Retries+1, last)
}

// await collects the replies to run request seq.
func (c *Conn) await(ctx context.Context, seq uint16, index int) (*sample, error) {
	s := &sample{}
	deadline := time.Now().Add(c.opt.ReplyTimeout)
	for {
		f, err := c.next(ctx, deadline)
		switch {
		case err == errTimeout:
			return nil, fmt.Errorf("sample %d: the board went silent (no reply for %v): is it still running? A model slower than that on this board needs a longer reply timeout", index, c.opt.ReplyTimeout)
		case errors.Is(err, errBadFrame):
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		case err != nil:
			return nil, err
		}
		switch f.typ {
		case msgHello:
			if h, err := parseHello(f.body); err == nil && h.boot {
				return nil, fmt.Errorf("sample %d: the board reset while running it (it said hello after a reset): check its power, watchdog and reset line", index)
			}
			continue
		case msgError:
			if len(f.body) > 0 && (f.seq == 0xFFFF || f.seq == seq) {
				switch f.body[0] {
				case 1, 5, 7: // the request arrived corrupt
					return nil, fmt.Errorf("%w: %v", errRetry, parseError(f.body))
				}
				return nil, fmt.Errorf("sample %d: %w", index, parseError(f.body))
			}
			continue
		}
		if f.seq != seq {
			continue // replies to a request lost earlier
		}
		deadline = time.Now().Add(c.opt.ReplyTimeout)
		switch f.typ {
		case msgTrace:
			r := &reader{b: f.body, what: "trace"}
			t := trace{dtype: int(r.u8()), cycles: r.u32()}
			t.name = sanitize(r.take(int(r.u16())), 1<<16)
			t.data = append([]byte(nil), r.take(int(r.u32()))...)
			if err := r.done(); err != nil {
				return nil, fmt.Errorf("sample %d: %w", index, err)
			}
			s.traces = append(s.traces, t)
		case msgResult:
			r := &reader{b: f.body, what: "result"}
			s.status = int32(r.u32())
			s.cyclesOK = r.u8()&1 != 0
			s.cycles = r.u32()
			if r.err != nil {
				return nil, fmt.Errorf("sample %d: %w", index, r.err)
			}
			s.outputs = r.b
			return s, nil
		default:
			return nil, fmt.Errorf("sample %d: unexpected message type 0x%02x from the board", index, f.typ)
		}
	}
}

// Run runs every sample on the board after checking it runs lib; it
// implements validate.Device.
func (c *Conn) Run(ctx context.Context, g *ir.Graph, lib validate.Library, inputs [][][]float32, perLayer bool) (*validate.RunnerOutput, error) {
	h := c.hello
	if h == nil {
		var err error
		if h, err = c.Hello(ctx); err != nil {
			return nil, err
		}
	}
	if err := h.check(g, lib); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	if perLayer && !h.Traced {
		return nil, fmt.Errorf("%s: --per-layer needs a firmware built with tracing: rebuild it with dqnn firmware --trace", c.name)
	}
	// The largest frame the board may send: the largest tensor, its name, headers.
	largest := 0
	for _, n := range g.Nodes {
		for _, t := range n.Outputs {
			largest = max(largest, ir.NumElements(t.Shape))
		}
	}
	outBytes := 0
	for _, t := range g.Outputs {
		outBytes += 4 * ir.NumElements(t.Shape)
	}
	c.dec.max = max(1<<16, 4*largest+outBytes+1<<17)
	out := &validate.RunnerOutput{Outputs: make([][][]float32, len(inputs))}
	c.Cycles, c.CyclesOK = c.Cycles[:0], h.Cycles
	for s, in := range inputs {
		var body []byte
		for _, v := range in {
			body = appendFloats(body, v)
		}
		r, err := c.runSample(ctx, body, perLayer, s)
		if err != nil {
			c.endProgress(len(inputs))
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		if r.status != 0 {
			c.endProgress(len(inputs))
			return nil, fmt.Errorf("%s: sample %d: the model returned status %d", c.name, s, r.status)
		}
		if len(r.outputs) != outBytes {
			c.endProgress(len(inputs))
			return nil, fmt.Errorf("%s: sample %d: the board sent %d output bytes, the model has %d", c.name, s, len(r.outputs), outBytes)
		}
		for _, t := range g.Outputs {
			n := 4 * ir.NumElements(t.Shape)
			out.Outputs[s] = append(out.Outputs[s], floats(r.outputs[:n]))
			r.outputs = r.outputs[n:]
		}
		for _, t := range r.traces {
			out.Traces = append(out.Traces, validate.Trace{Sample: s, Name: t.name, DType: t.dtype, Data: t.data})
		}
		c.CyclesOK = c.CyclesOK && r.cyclesOK
		c.Cycles = append(c.Cycles, r.cycles)
		c.progress(s+1, len(inputs))
	}
	c.endProgress(len(inputs))
	return out, nil
}

func (c *Conn) progress(done, total int) {
	if c.opt.Progress == nil || total < 2 {
		return
	}
	const width = 30
	k := done * width / total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < k {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(c.opt.Progress, "\r%s: [%s] %d/%d samples", c.name, bar, done, total)
}

func (c *Conn) endProgress(total int) {
	if c.opt.Progress != nil && total >= 2 {
		fmt.Fprintln(c.opt.Progress)
	}
}

// CycleSummary describes the measured cycles per inference of the last Run.
func (c *Conn) CycleSummary() string {
	if len(c.Cycles) == 0 {
		return "no inference run"
	}
	if !c.CyclesOK {
		return "cycles unavailable (the board's cycle counter does not run; QEMU has none)"
	}
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for _, v := range c.Cycles {
		lo, hi = min(lo, v), max(hi, v)
	}
	return fmt.Sprintf("cycles per inference: %d..%d over %d samples", lo, hi, len(c.Cycles))
}
