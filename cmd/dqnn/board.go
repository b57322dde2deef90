package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dqnn/dqnn/board"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/safeio"
	"github.com/dqnn/dqnn/validate"
)

// openBoard connects to the board a serial: or tcp: target names and reads
// its hello; replyTimeout bounds the board's silence while it runs.
func openBoard(ctx context.Context, spec string, replyTimeout time.Duration, progress io.Writer) (*board.Conn, error) {
	c, err := board.Open(spec, board.Options{ReplyTimeout: replyTimeout, Progress: progress})
	if err != nil {
		return nil, err
	}
	h, err := c.Hello(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	fmt.Fprintf(progress, "%s: board %s (%s), model %s (sha256 %.12s...), traced %v, %s\n", spec, h.Board, h.CPU, h.Model, h.SHA256, h.Traced, cycleCounter(h.Cycles))
	return c, nil
}

func cycleCounter(ok bool) string {
	if ok {
		return "cycle counter running"
	}
	return "no cycle counter (cycles unavailable)"
}

// benchBoard times one inference of the model on the board a serial: or
// tcp: target names (dqnn bench --target serial:...).
func benchBoard(ctx context.Context, spec, model, weights, name string, limits safeio.Limits, stderr io.Writer) (*board.BenchReport, error) {
	c, err := openBoard(ctx, spec, 0, stderr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, g, err := compileModel(model, weights, limits, compiler.Options{Name: name, Target: string(c.CPU())})
	if err != nil {
		return nil, err
	}
	return board.Bench(ctx, c, g, validate.Library{Name: libName(model, name), Files: res.Files, Lowered: res.Graph, SHA256: g.SHA256()})
}
