package board

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/validate"
)

// LayerCycles is one traced layer's measured cycles on the board.
type LayerCycles struct {
	CID    int    `json:"c_id"`             // the C-layer, numbered as dqnn analyze numbers it (-1: none)
	Layer  string `json:"layer"`            // its Keras layer
	Tensor string `json:"tensor"`           // the tensor the layer produces (its dqnn_trace name)
	Cycles uint32 `json:"cycles,omitempty"` // from the end of the previous layer's trace to this one's
}

// BenchReport is one inference timed on a board by its cycle counter.
type BenchReport struct {
	Model        string `json:"model"`  // the model's file name(s), as every report names it
	Target       string `json:"target"` // the link: serial:PORT[,BAUD] or tcp:HOST:PORT
	Board        string `json:"board"`
	CPU          string `json:"cpu"`
	CycleCounter bool   `json:"cycle_counter"` // false: cycles unavailable, every count below is meaningless
	// Total is the inference from NAME_run's call to its return, less the
	// time the traced firmware spent sending traces.
	Total  uint32        `json:"total_cycles,omitempty"`
	Layers []LayerCycles `json:"layers,omitempty"` // traced firmware only
	Note   string        `json:"note"`
}

// Bench runs one inference of a seeded random input (validate.Inputs) on
// the board behind c, after checking it runs lib, and reports its cycles,
// per layer when the firmware was built with tracing.
func Bench(ctx context.Context, c *Conn, g *ir.Graph, lib validate.Library) (*BenchReport, error) {
	inputs, _, err := validate.Inputs(g, nil, 1, 1)
	if err != nil {
		return nil, err
	}
	h := c.hello
	if h == nil {
		if h, err = c.Hello(ctx); err != nil {
			return nil, err
		}
	}
	if err := h.check(g, lib); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	var body []byte
	for _, v := range inputs[0] {
		body = appendFloats(body, v)
	}
	s, err := c.runSample(ctx, body, h.Traced, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	if s.status != 0 {
		return nil, fmt.Errorf("%s: the model returned status %d", c.name, s.status)
	}
	rep := &BenchReport{Model: g.SourceName(), Target: c.name, Board: h.Board, CPU: h.CPU, CycleCounter: h.Cycles && s.cyclesOK, Total: s.cycles,
		Note: "cycles from the core's DWT cycle counter, one inference of a seeded random input; per layer from the end of the previous layer's trace frame to this layer's"}
	var clayers map[string]ir.CLayer
	if lib.Lowered != nil {
		clayers = ir.CLayers(lib.Lowered)
	}
	for _, t := range s.traces {
		l, ok := clayers[t.name]
		if !ok {
			l = ir.CLayer{CID: -1}
		}
		rep.Layers = append(rep.Layers, LayerCycles{CID: l.CID, Layer: l.Name, Tensor: t.name, Cycles: t.cycles})
	}
	if !h.Traced {
		rep.Note += "; the firmware was built without tracing, so only the total is known (dqnn firmware --trace)"
	}
	return rep, nil
}

// WriteText prints the report for a terminal.
func (r *BenchReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "model %s on %s (%s) over %s\n", r.Model, r.Board, r.CPU, r.Target)
	if !r.CycleCounter {
		fmt.Fprintln(w, "cycles unavailable: the board has no running cycle counter (QEMU implements none; a Cortex-M0/M0+/M23 has no DWT_CYCCNT)")
		if len(r.Layers) > 0 {
			fmt.Fprintln(w, "layers run (no timing):")
			for _, l := range r.Layers {
				fmt.Fprintf(w, "  %d %s: %s\n", l.CID, l.Layer, l.Tensor)
			}
		}
		return
	}
	if len(r.Layers) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "c_id\tlayer\ttensor\tcycles\tshare\t")
		for _, l := range r.Layers {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.1f%%\t\n", l.CID, l.Layer, l.Tensor, l.Cycles, 100*float64(l.Cycles)/float64(max(r.Total, 1)))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "total: %d cycles per inference\n%s\n", r.Total, r.Note)
}
