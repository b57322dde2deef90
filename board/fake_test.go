package board

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/validate"
)

// fakeBoard speaks the firmware's side of the protocol over one end of a
// net.Pipe, with faults to inject. Its "model" doubles its one input.
type fakeBoard struct {
	conn net.Conn
	sha  string
	mu   sync.Mutex
	runs int // run requests received
	// Faults, each applied to the reply of the run request with that
	// 1-based number (0 = never).
	corruptRun  int  // flip a bit in the result
	dropRun     int  // drop one byte of the result
	badReqRun   int  // answer as if the request arrived corrupt
	resetRun    int  // reset instead of answering (boot hello)
	faultRun    int  // report a HardFault
	silentRun   int  // never answer
	alwaysBad   bool // corrupt every result
	silent      bool // answer nothing, ever
	deaf        bool // read nothing, ever: the host's writes block
	garbage     int  // send garbage before this many replies
	bootedHello bool // say hello unasked at start
	cycles      bool // a running cycle counter: 1234 cycles a run, two layers of 1000 and 234
}

func (b *fakeBoard) helloBody(boot bool) []byte {
	var p []byte
	flags := byte(helloTraced)
	if boot {
		flags |= helloBoot
	}
	if b.cycles {
		flags |= helloCycles
	}
	p = append(p, flags)
	p = binary.LittleEndian.AppendUint32(p, 4+1+16)
	for _, s := range []string{"fake", "netduinoplus2", "cortex-m4"} {
		p = append(p, byte(len(s)))
		p = append(p, s...)
	}
	sum, _ := hex.DecodeString(b.sha)
	p = append(p, sum...)
	for range 2 { // one input, one output: f32 [4]
		p = append(p, 1, 1, 1)
		p = binary.LittleEndian.AppendUint32(p, 4)
	}
	return p
}

func (b *fakeBoard) send(typ byte, seq uint16, body []byte) {
	b.noise()
	b.conn.Write(encodeFrame(typ, seq, body))
}

// noise sends line noise: a badly escaped fragment and stray bytes.
func (b *fakeBoard) noise() {
	if b.garbage > 0 {
		b.garbage--
		b.conn.Write([]byte{0x12, frameEsc, 0x00, 0x34, frameEnd, 0x55, 0x66})
	}
}

func (b *fakeBoard) serve() {
	if b.deaf {
		return
	}
	if b.bootedHello {
		b.send(msgHello, 0, b.helloBody(true))
	}
	d := decoder{max: 1 << 16}
	buf := make([]byte, 1024)
	for {
		n, err := b.conn.Read(buf)
		if err != nil {
			return
		}
		d.feed(buf[:n], func(f *frame, err error) bool {
			if b.silent {
				return true
			}
			if err != nil {
				b.send(msgError, 0xFFFF, append([]byte{1}, "frame failed its CRC"...))
				return true
			}
			switch f.typ {
			case msgHelloReq:
				b.send(msgHello, f.seq, b.helloBody(false))
			case msgRun:
				b.mu.Lock()
				b.runs++
				k := b.runs
				b.mu.Unlock()
				b.run(f, k)
			}
			return true
		})
	}
}

func (b *fakeBoard) run(f *frame, k int) {
	switch k {
	case b.silentRun:
		return
	case b.resetRun:
		b.send(msgHello, 0, b.helloBody(true))
		return
	case b.faultRun:
		b.send(msgError, f.seq, append([]byte{6}, "HardFault pc=0x08000123"...))
		return
	case b.badReqRun:
		b.send(msgError, 0xFFFF, append([]byte{1}, "frame failed its CRC"...))
		return
	}
	in := floats(f.body[1:])
	out := make([]float32, len(in))
	for i, x := range in {
		out[i] = 2 * x
	}
	if f.body[0]&runTrace != 0 {
		for i, c := range []uint32{1000, 234} {
			t := []byte{1}
			t = binary.LittleEndian.AppendUint32(t, c)
			name := []string{"hidden", "y"}[i]
			t = binary.LittleEndian.AppendUint16(t, uint16(len(name)))
			t = append(t, name...)
			t = binary.LittleEndian.AppendUint32(t, uint32(4*len(out)))
			t = appendFloats(t, out)
			b.conn.Write(encodeFrame(msgTrace, f.seq, t))
		}
	}
	body := binary.LittleEndian.AppendUint32(nil, 0)
	if b.cycles {
		body = append(body, 1)
		body = binary.LittleEndian.AppendUint32(body, 1234)
	} else {
		body = append(body, 0)
		body = binary.LittleEndian.AppendUint32(body, 0)
	}
	body = appendFloats(body, out)
	wire := encodeFrame(msgResult, f.seq, body)
	switch {
	case k == b.corruptRun || b.alwaysBad:
		wire[len(wire)/2] ^= 0x04
	case k == b.dropRun:
		wire = append(wire[:len(wire)/2:len(wire)/2], wire[len(wire)/2+1:]...)
	}
	b.noise()
	b.conn.Write(wire)
}

// fakeModel is what the fake board claims to run.
func fakeModel() (*ir.Graph, validate.Library) {
	in := &ir.Tensor{Name: "x", Shape: []int{4}}
	out := &ir.Tensor{Name: "y", Shape: []int{4}}
	g := &ir.Graph{Name: "fake", Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}}
	return g, validate.Library{Name: "fake", SHA256: strings.Repeat("ab", 32)}
}

// start connects a Conn to b; short timeouts keep the fault tests fast.
func start(t *testing.T, b *fakeBoard) *Conn {
	t.Helper()
	host, dev := net.Pipe()
	b.conn = dev
	if b.sha == "" {
		b.sha = strings.Repeat("ab", 32)
	}
	go b.serve()
	c := NewConn("fake", host, Options{HelloTimeout: 500 * time.Millisecond, ReplyTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close(); dev.Close() })
	return c
}

var fakeInputs = [][][]float32{{{1, 2, 3, 4}}, {{-1, 0.5, 0, 8}}, {{5, 6, 7, 8}}}

func runFake(t *testing.T, b *fakeBoard) (*validate.RunnerOutput, *Conn, error) {
	t.Helper()
	c := start(t, b)
	g, lib := fakeModel()
	start := time.Now()
	out, err := c.Run(context.Background(), g, lib, fakeInputs, false)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: a fault must end quickly", d)
	}
	return out, c, err
}

func wantDoubled(t *testing.T, out *validate.RunnerOutput) {
	t.Helper()
	for s, in := range fakeInputs {
		for i, x := range in[0] {
			if got := out.Outputs[s][0][i]; got != 2*x {
				t.Fatalf("sample %d element %d: %g, want %g", s, i, got, 2*x)
			}
		}
	}
}

// Link faults that a resend repairs.
func TestFakeBoardRecovers(t *testing.T) {
	t.Parallel()
	for name, b := range map[string]*fakeBoard{
		"clean":               {},
		"corrupt frame":       {corruptRun: 2},
		"dropped byte":        {dropRun: 1},
		"corrupt request":     {badReqRun: 3},
		"garbage on the line": {garbage: 3, bootedHello: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, _, err := runFake(t, b)
			if err != nil {
				t.Fatal(err)
			}
			wantDoubled(t, out)
			// Every fault costs exactly one resend of the sample it hit.
			want := len(fakeInputs) + 1
			if name == "clean" {
				want = len(fakeInputs)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.runs != want {
				t.Errorf("%d run requests, want %d", b.runs, want)
			}
		})
	}
}

// Faults that end the run, each with its own clear error and no hang.
func TestFakeBoardFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		b    *fakeBoard
		want string
	}{
		{"another model", &fakeBoard{sha: strings.Repeat("cd", 32)}, `the board runs model "fake" (sha256 cdcdcdcdcdcd...), not "fake" (sha256 abababababab...)`},
		{"silent board", &fakeBoard{silent: true}, "no hello from the board in 500ms"},
		{"board reads nothing", &fakeBoard{deaf: true}, "fake: the board takes no data: a write blocked for 300ms"},
		{"silent mid-run", &fakeBoard{silentRun: 2}, "sample 1: the board went silent (no reply for 300ms)"},
		{"reset mid-run", &fakeBoard{resetRun: 2}, "sample 1: the board reset while running it"},
		{"fault", &fakeBoard{faultRun: 3}, "sample 2: the board reported: fault: HardFault pc=0x08000123"},
		{"link keeps corrupting", &fakeBoard{alwaysBad: true}, "sample 0: 4 attempts lost on the link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runFake(t, tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A board whose link closes (unplugged, QEMU gone) ends the run at once.
func TestFakeBoardUnplugged(t *testing.T) {
	t.Parallel()
	c := start(t, &fakeBoard{})
	if _, err := c.Hello(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.rw.Close()
	g, lib := fakeModel()
	_, err := c.Run(context.Background(), g, lib, fakeInputs, false)
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("error %v, want the link closed", err)
	}
}

// The decoder survives any byte stream: no panic, bounded buffer, and the
// frames around garbage still come through.
func TestDecoderResync(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		var stream bytes.Buffer
		noise := make([]byte, rng.Intn(300))
		rng.Read(noise)
		body := make([]byte, rng.Intn(100))
		rng.Read(body)
		stream.Write(noise)
		stream.Write(encodeFrame(msgResult, uint16(i), body))
		stream.Write(noise[:len(noise)/2])
		stream.Write(encodeFrame(msgTrace, uint16(i+1), body))
		d := decoder{max: 128}
		var got []*frame
		d.feed(stream.Bytes(), func(f *frame, err error) bool {
			if f != nil {
				got = append(got, f)
			}
			return true
		})
		if len(d.buf) > 128+frameOverhead {
			t.Fatalf("decoder buffer grew to %d", len(d.buf))
		}
		// Noise may forge a frame only with a valid CRC-32 (2^-32): the two
		// real frames must be the last two decoded.
		if len(got) < 2 || !bytes.Equal(got[len(got)-1].body, body) || got[len(got)-1].seq != uint16(i+1) || got[len(got)-2].seq != uint16(i) {
			t.Fatalf("case %d: decoded %d frames, want the two sent after the noise", i, len(got))
		}
	}
	// An overlong frame is refused, and the next one decodes.
	d := decoder{max: 8}
	var errs, ok int
	d.feed(append(encodeFrame(msgResult, 1, make([]byte, 100)), encodeFrame(msgResult, 2, []byte{1})...), func(f *frame, err error) bool {
		if err != nil {
			errs++
		} else {
			ok++
		}
		return true
	})
	if errs != 1 || ok != 1 {
		t.Fatalf("overlong frame: %d errors, %d frames; want 1 and 1", errs, ok)
	}
}

// Hostile or garbled message bodies give errors, never a panic.
func TestParseHostileBodies(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(2))
	b := &fakeBoard{sha: strings.Repeat("ab", 32)}
	good := b.helloBody(false)
	if _, err := parseHello(good); err != nil {
		t.Fatalf("the fake's hello: %v", err)
	}
	for i := 0; i < 2000; i++ {
		body := append([]byte(nil), good...)
		switch i % 3 {
		case 0:
			body = body[:rng.Intn(len(body))]
		case 1:
			body[rng.Intn(len(body))] = byte(rng.Intn(256))
		default:
			body = make([]byte, rng.Intn(64))
			rng.Read(body)
		}
		if h, err := parseHello(body); err == nil {
			for _, s := range []string{h.Model, h.Board, h.CPU} {
				if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7E }) {
					t.Fatalf("unsanitized text %q", s)
				}
			}
		}
		_ = parseError(body)
	}
	if _, err := parseHello(good[:10]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated hello: %v", err)
	}
}

// A board with a running cycle counter: bench prints cycles per layer and
// the total, validate's summary the cycles per inference.
func TestFakeBoardCycles(t *testing.T) {
	t.Parallel()
	b := &fakeBoard{cycles: true}
	c := start(t, b)
	g, lib := fakeModel()
	rep, err := Bench(context.Background(), c, g, lib)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"hidden", "1000", "81.0%", "234", "total: 1234 cycles per inference"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("bench text lacks %q:\n%s", want, text.String())
		}
	}
	if !rep.CycleCounter || rep.Total != 1234 || len(rep.Layers) != 2 {
		t.Errorf("report %+v", rep)
	}
	if _, err := c.Run(context.Background(), g, lib, fakeInputs, true); err != nil {
		t.Fatal(err)
	}
	if s := c.CycleSummary(); s != "cycles per inference: 1234..1234 over 3 samples" {
		t.Errorf("summary %q", s)
	}
	// Without a counter: "cycles unavailable", no number.
	c = start(t, &fakeBoard{})
	rep, err = Bench(context.Background(), c, g, lib)
	if err != nil {
		t.Fatal(err)
	}
	text.Reset()
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "cycles unavailable") || strings.Contains(text.String(), "total:") {
		t.Errorf("no counter:\n%s", text.String())
	}
}

// choppy is a link whose Write, like go.bug.st/serial's single write(2),
// may write part of the buffer or be interrupted by a signal.
type choppy struct {
	net.Conn
	calls int
}

func (c *choppy) Write(p []byte) (int, error) {
	c.calls++
	if c.calls%3 == 0 {
		return 0, syscall.EINTR
	}
	return c.Conn.Write(p[:min(len(p), 7)])
}

// Short and interrupted writes still send whole frames.
func TestShortWrites(t *testing.T) {
	t.Parallel()
	host, dev := net.Pipe()
	b := &fakeBoard{conn: dev, sha: strings.Repeat("ab", 32)}
	go b.serve()
	link := &choppy{Conn: host}
	c := NewConn("choppy", link, Options{HelloTimeout: 2 * time.Second, ReplyTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close(); dev.Close() })
	g, lib := fakeModel()
	out, err := c.Run(context.Background(), g, lib, fakeInputs, false)
	if err != nil {
		t.Fatal(err)
	}
	wantDoubled(t, out)
	if link.calls < 10 {
		t.Errorf("%d write calls: the link did not chop", link.calls)
	}
}
