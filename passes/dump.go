package passes

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/ir"
)

// Dump is the stable text form of a graph (and of its memory plan when p is
// not nil) used by golden tests and `dqnn analyze -v`: one line per node and
// indented lines with its attributes. Long arrays print their first values,
// their length and an FNV-1a hash of their bits.
func Dump(g *ir.Graph, p *Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s\n", g.Name)
	for _, t := range g.Inputs {
		fmt.Fprintf(&b, "input %s\n", tensorStr(t))
	}
	for _, t := range g.Outputs {
		fmt.Fprintf(&b, "output %s\n", tensorStr(t))
	}
	for _, n := range g.Nodes {
		ins := make([]string, len(n.Inputs))
		for i, t := range n.Inputs {
			ins[i] = t.Name
		}
		outs := make([]string, len(n.Outputs))
		for i, t := range n.Outputs {
			outs[i] = tensorStr(t)
		}
		k := kattrs(n)
		if k == nil {
			fmt.Fprintf(&b, "%s = %s(%s) -> %s\n", n.Name, n.Op, strings.Join(ins, ", "), strings.Join(outs, ", "))
			dumpAttrs(&b, n.Attrs)
			continue
		}
		fmt.Fprintf(&b, "%s = %s %s%s(%s) -> %s\n", n.Name, k.Kind, typesStr(k), nameStr(k.Name), strings.Join(ins, ", "), strings.Join(outs, ", "))
		if len(k.Fused) > 1 {
			fmt.Fprintf(&b, "  fused: %s\n", strings.Join(k.Fused, ", "))
		}
		if d := k.Dense; d != nil {
			fmt.Fprintf(&b, "  dense: in %d out %d\n", d.InN, d.OutN)
		}
		if c := k.Conv; c != nil {
			fmt.Fprintf(&b, "  conv: in %dx%dx%d k %dx%d stride %dx%d dil %dx%d pad %d,%d", c.InH, c.InW, c.InC, c.KH, c.KW, c.StrideH, c.StrideW, c.DilH, c.DilW, c.PadTop, c.PadLeft)
			if c.PadValue != 0 {
				fmt.Fprintf(&b, " pad_value %s", f32(c.PadValue))
			}
			if c.DepthMultiplier > 0 {
				fmt.Fprintf(&b, " mult %d", c.DepthMultiplier)
			}
			if c.PoolH*c.PoolW > 1 {
				fmt.Fprintf(&b, " conv %dx%d pool %dx%d/%dx%d", c.ConvH, c.ConvW, c.PoolH, c.PoolW, c.PoolStrideH, c.PoolStrideW)
			}
			fmt.Fprintf(&b, " out %dx%dx%d\n", c.OutH, c.OutW, c.OutC)
		}
		if pg := k.Pool; pg != nil {
			fmt.Fprintf(&b, "  pool: in %dx%dx%d window %dx%d stride %dx%d pad %d,%d out %dx%d\n", pg.InH, pg.InW, pg.C, pg.PoolH, pg.PoolW, pg.StrideH, pg.StrideW, pg.PadTop, pg.PadLeft, pg.OutH, pg.OutW)
		}
		if k.Rows > 0 {
			fmt.Fprintf(&b, "  rows %d c %d\n", k.Rows, k.C)
		}
		if k.ConcatC != nil {
			fmt.Fprintf(&b, "  concat c %v\n", k.ConcatC)
		}
		if w := k.Weights; w != nil {
			fmt.Fprintf(&b, "  weights: %s %s", w.DType, shapeStr(w.Shape))
			switch {
			case w.Data == nil && w.Codes == nil && w.Scale == nil:
				fmt.Fprintf(&b, " values and scales not given (scales from the weights, powers of two: %v)\n", w.ScalesPow2)
			case w.Data == nil && w.Codes == nil:
				fmt.Fprintf(&b, " scale %s, values not given\n", floats(w.Scale))
			case w.Codes != nil:
				fmt.Fprintf(&b, " scale %s", floats(w.Scale))
				fmt.Fprintf(&b, " codes %s\n", ints(w.Codes))
			default:
				fmt.Fprintf(&b, " scale %s data %s\n", floats(w.Scale), floats(w.Data))
			}
		}
		if st := k.Stage; st != nil {
			fmt.Fprintf(&b, "  stage:")
			if st.Bias != nil {
				fmt.Fprintf(&b, " bias %s", floats(st.Bias))
			}
			if st.Relu {
				fmt.Fprintf(&b, " relu")
			}
			if st.Step {
				fmt.Fprintf(&b, " step")
			}
			if st.BN != nil {
				fmt.Fprintf(&b, " bn %s(fused=%v)", st.BNName, st.BN.Fused)
			}
			fmt.Fprintln(&b)
			for _, f := range []struct {
				name string
				v    []float32
			}{{"mul", st.Mul}, {"add", st.Add}, {"bn_sub", st.BnSub}, {"bn_mul", st.BnMul}, {"bn_add", st.BnAdd}, {"thr_f", st.ThrF}} {
				if f.v != nil {
					fmt.Fprintf(&b, "    %s %s\n", f.name, floats(f.v))
				}
			}
			if st.ThrI != nil {
				fmt.Fprintf(&b, "    thr_i %s\n", ints(st.ThrI))
			}
			if st.Flip != nil {
				var fl []int32
				for _, f := range st.Flip {
					if f {
						fl = append(fl, 1)
					} else {
						fl = append(fl, 0)
					}
				}
				fmt.Fprintf(&b, "    flip %s\n", ints(fl))
			}
			if k.Out.Tag() == "s8" {
				fmt.Fprintf(&b, "    out_inv_scale %s q [%d, %d] zp %d\n", f32(st.OutInvScale), st.QMin, st.QMax, st.OutZP)
			}
		}
	}
	if p != nil {
		fmt.Fprintf(&b, "arena %d\n", p.ArenaSize)
		ts := make([]*ir.Tensor, 0, len(p.Buffers))
		for t := range p.Buffers {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		for _, t := range ts {
			bf := p.Buffers[t]
			if bf.Kind == InArena {
				fmt.Fprintf(&b, "  %s @%d +%d\n", t.Name, bf.Offset, bf.Size)
			} else {
				fmt.Fprintf(&b, "  %s %s[%d] +%d\n", t.Name, bf.Kind, bf.Index, bf.Size)
			}
		}
	}
	return b.String()
}

func dumpAttrs(b *strings.Builder, a any) {
	switch a := a.(type) {
	case *ir.QuantizeAttrs:
		if a.Quantizer != nil {
			fmt.Fprintf(b, "  quantizer %s\n", a.Quantizer.Class)
		}
	case *ir.ActivationAttrs:
		fmt.Fprintf(b, "  function %s\n", a.Function)
	case *ir.PoolAttrs:
		fmt.Fprintf(b, "  pool %dx%d stride %dx%d %s\n", a.PoolH, a.PoolW, a.StrideH, a.StrideW, a.Padding)
	case *ir.BatchNormAttrs:
		fmt.Fprintf(b, "  gamma %s beta %s mean %s var %s eps %s fused=%v\n", floats(a.Gamma), floats(a.Beta), floats(a.Mean), floats(a.Variance), f32(a.Epsilon), a.Fused)
	}
}

func tensorStr(t *ir.Tensor) string {
	s := fmt.Sprintf("%s %s %s", t.Name, shapeStr(t.Shape), t.Quant.DType)
	if q := t.Quant; len(q.Scale) > 0 && (len(q.Scale) > 1 || q.Scale[0] != 1) {
		s += " scale " + floats(q.Scale)
	}
	if q := t.Quant; q.DType.Tag() == "s8" {
		s += fmt.Sprintf(" q[%d,%d] zp %d", q.QMin, q.QMax, q.ZeroPoint)
	}
	return s
}

func typesStr(k *ir.KernelAttrs) string {
	if k.W.Valid() {
		return fmt.Sprintf("%s*%s->%s", k.In, k.W, k.Out)
	}
	return fmt.Sprintf("%s->%s", k.In, k.Out)
}

func nameStr(n string) string {
	if n == "" {
		return " "
	}
	return " " + n + " "
}

func f32(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func floats(v []float32) string {
	h := fnv.New32a()
	var p []string
	for i, x := range v {
		bits := math.Float32bits(x)
		h.Write([]byte{byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24)})
		if i < 8 {
			p = append(p, f32(x))
		}
	}
	if len(v) <= 8 {
		return "[" + strings.Join(p, " ") + "]"
	}
	return fmt.Sprintf("[%s ...] (%d, fnv %08x)", strings.Join(p, " "), len(v), h.Sum32())
}

func ints(v []int32) string {
	h := fnv.New32a()
	var p []string
	for i, x := range v {
		u := uint32(x)
		h.Write([]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
		if i < 8 {
			p = append(p, strconv.Itoa(int(x)))
		}
	}
	if len(v) <= 8 {
		return "[" + strings.Join(p, " ") + "]"
	}
	return fmt.Sprintf("[%s ...] (%d, fnv %08x)", strings.Join(p, " "), len(v), h.Sum32())
}
