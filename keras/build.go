package keras

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// builder turns a parsed model config (plus weights) into an ir.Graph.
type builder struct {
	file string
	m    *model
	w    weightSource // nil: architecture only
	g    *ir.Graph
	out  map[string]*ir.Tensor // layer name -> its output tensor

	dtypeNoted map[string]bool // non-float32 compute dtypes already noted
	inputShape []int           // Options.InputShape

	// wholePools names the pooling layers whose window covers their whole
	// input at the declared input shape (e.g. the 7×7 AveragePooling2D
	// ahead of a zoo model's classifier); with an overridden input shape
	// they stay whole-image (global) pools.
	wholePools map[string]bool

	// zeroPads maps the output of a ZeroPadding2D layer, which no node
	// produces, to its input and padding: the convolution reading it
	// absorbs the padding (see builder.zeroPadding).
	zeroPads map[*ir.Tensor]*zeroPad

	// oneD marks the [1, width, channels] tensors that are Keras
	// (width, channels) tensors of 1-D layers (see oned.go).
	oneD     map[*ir.Tensor]bool
	expanded map[*ir.Tensor]*ir.Tensor // a (steps, channels) tensor → its [1, steps, channels] reshape
}

// zeroPad is a pending ZeroPadding2D.
type zeroPad struct {
	layer                    string
	src                      *ir.Tensor
	top, bottom, left, right int
}

func build(file string, m *model, w weightSource) (*ir.Graph, error) {
	return buildWith(file, m, w, Options{})
}

func buildWith(file string, m *model, w weightSource, opt Options) (*ir.Graph, error) {
	b := &builder{file: file, m: m, w: w, g: &ir.Graph{Name: m.name}, out: map[string]*ir.Tensor{}, inputShape: opt.InputShape, wholePools: map[string]bool{}, zeroPads: map[*ir.Tensor]*zeroPad{}, oneD: map[*ir.Tensor]bool{}, expanded: map[*ir.Tensor]*ir.Tensor{}}
	if opt.InputShape != nil {
		// Find the whole-image pools at the declared shape first (no
		// weights needed), so they are resized to the new one.
		decl, err := buildWith(file, m, nil, Options{})
		if err != nil {
			return nil, err
		}
		b.wholePools = declaredWholePools(decl)
	}
	var err error
	if m.class == "Sequential" {
		err = b.sequential()
	} else {
		err = b.functional()
	}
	if err != nil {
		return nil, err
	}
	if err := b.g.Verify(); err != nil {
		return nil, fmt.Errorf("%s: imported graph is inconsistent: %w", file, err)
	}
	return b.g, nil
}

func (b *builder) layerErr(l *layer, err error) error {
	return fmt.Errorf("%s: layer %q (%s): %w", b.file, l.name, l.class, err)
}

func (b *builder) sequential() error {
	layers := b.m.layers
	var cur *ir.Tensor
	if layers[0].class == "InputLayer" {
		t, err := b.input(layers[0])
		if err != nil {
			return b.layerErr(layers[0], err)
		}
		cur, layers = t, layers[1:]
	} else {
		c := cfg(layers[0].config)
		shape, ok, err := c.batchShape("batch_input_shape")
		if !ok && err == nil {
			shape, ok, err = c.batchShape("batch_shape")
		}
		if !ok && err == nil && b.m.buildShape != nil {
			shape, ok, err = cfg{"build_input_shape": b.m.buildShape}.batchShape("build_input_shape")
		}
		if err != nil {
			return b.layerErr(layers[0], err)
		}
		if !ok {
			return b.layerErr(layers[0], fmt.Errorf("the Sequential model has no input shape; add an InputLayer (keras.Input(shape=...)) and re-save"))
		}
		if shape, err = b.overrideShape(shape); err != nil {
			return b.layerErr(layers[0], err)
		}
		cur = &ir.Tensor{Name: layers[0].name + "_input", Shape: shape, Quant: ir.Float()}
		b.g.Inputs = append(b.g.Inputs, cur)
	}
	for _, l := range layers {
		if l.class == "InputLayer" {
			return b.layerErr(l, fmt.Errorf("an InputLayer may only come first in a Sequential model"))
		}
		t, err := b.convertOrKeep(l, []*ir.Tensor{cur})
		if err != nil {
			return b.layerErr(l, err)
		}
		cur = t
	}
	if zp := b.zeroPads[cur]; zp != nil {
		return fmt.Errorf("%s: layer %q (ZeroPadding2D): %s", b.file, zp.layer, zeroPadUse)
	}
	b.g.Outputs = []*ir.Tensor{b.squeeze(cur)}
	return nil
}

func (b *builder) functional() error {
	byName := map[string]*layer{}
	for _, l := range b.m.layers {
		byName[l.name] = l
	}
	done := map[string]bool{}
	pending := slices.Clone(b.m.layers)
	for len(pending) > 0 {
		progress := false
		var next []*layer
		for _, l := range pending {
			ready := true
			for _, node := range l.inbound {
				for _, r := range node {
					if _, ok := byName[r.layer]; !ok {
						return b.layerErr(l, fmt.Errorf("input comes from layer %q, which is not in the model", r.layer))
					}
					if !done[r.layer] {
						ready = false
					}
				}
			}
			if !ready {
				next = append(next, l)
				continue
			}
			if err := b.functionalLayer(l); err != nil {
				return err
			}
			done[l.name] = true
			progress = true
		}
		if !progress {
			return b.layerErr(next[0], fmt.Errorf("its inputs form a cycle or never get computed"))
		}
		pending = next
	}
	get := func(r ref, what string) (*ir.Tensor, error) {
		t, ok := b.out[r.layer]
		if !ok {
			return nil, fmt.Errorf("%s: model %s %q is not a layer of the model", b.file, what, r.layer)
		}
		if r.node != 0 || r.tensorID != 0 {
			return nil, fmt.Errorf("%s: model %s refers to call %d, output %d of layer %q; only single-call, single-output layers are supported", b.file, what, r.node, r.tensorID, r.layer)
		}
		return t, nil
	}
	for _, r := range b.m.inputs {
		t, err := get(r, "input")
		if err != nil {
			return err
		}
		if !slices.Contains(b.g.Inputs, t) {
			return fmt.Errorf("%s: model input %q is not an InputLayer", b.file, r.layer)
		}
	}
	// Keep graph inputs in input_layers order.
	var ins []*ir.Tensor
	for _, r := range b.m.inputs {
		t, _ := get(r, "input")
		ins = append(ins, t)
	}
	b.g.Inputs = ins
	if b.inputShape != nil && len(ins) != 1 {
		return fmt.Errorf("%s: the input shape can only be overridden for a model with one input, this one has %d", b.file, len(ins))
	}
	for _, r := range b.m.outputs {
		t, err := get(r, "output")
		if err != nil {
			return err
		}
		if zp := b.zeroPads[t]; zp != nil {
			return fmt.Errorf("%s: layer %q (ZeroPadding2D): %s", b.file, zp.layer, zeroPadUse)
		}
		b.g.Outputs = append(b.g.Outputs, b.squeeze(t))
	}
	return nil
}

func (b *builder) functionalLayer(l *layer) error {
	if l.class == "InputLayer" {
		t, err := b.input(l)
		if err != nil {
			return b.layerErr(l, err)
		}
		b.out[l.name] = t
		return nil
	}
	switch len(l.inbound) {
	case 0:
		return nil // a layer never called: not part of the graph
	case 1:
	default:
		return b.layerErr(l, fmt.Errorf("the layer is called %d times (shared layer); give each call its own layer", len(l.inbound)))
	}
	var ins []*ir.Tensor
	for _, r := range l.inbound[0] {
		if r.node != 0 || r.tensorID != 0 {
			return b.layerErr(l, fmt.Errorf("input refers to call %d, output %d of layer %q; only single-call, single-output layers are supported", r.node, r.tensorID, r.layer))
		}
		t, ok := b.out[r.layer]
		if !ok {
			return b.layerErr(l, fmt.Errorf("input layer %q produced no tensor", r.layer))
		}
		ins = append(ins, t)
	}
	if len(ins) == 0 {
		return b.layerErr(l, fmt.Errorf("the layer has no inputs"))
	}
	t, err := b.convertOrKeep(l, ins)
	if err != nil {
		return b.layerErr(l, err)
	}
	b.out[l.name] = t
	return nil
}

func (b *builder) input(l *layer) (*ir.Tensor, error) {
	c := cfg(l.config)
	shape, ok, err := c.batchShape("batch_input_shape")
	if !ok && err == nil {
		shape, ok, err = c.batchShape("batch_shape")
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no batch_input_shape / batch_shape; give the input a fixed shape")
	}
	if shape, err = b.overrideShape(shape); err != nil {
		return nil, err
	}
	if dt := dtypeName(c["dtype"]); dt != "" && dt != "float32" {
		b.note("%s: input %q has dtype %s; dqnn takes float32 input values (integers are passed exactly up to 2^24)", b.file, l.name, dt)
	}
	t := &ir.Tensor{Name: l.name, Shape: shape, Quant: ir.Float()}
	b.g.Inputs = append(b.g.Inputs, t)
	return t, nil
}

// declaredWholePools lists the pool nodes of g whose (valid) window is
// their whole input, i.e. global poolings written as fixed-size pools.
func declaredWholePools(g *ir.Graph) map[string]bool {
	m := map[string]bool{}
	for _, n := range g.Nodes {
		a, ok := n.Attrs.(*ir.PoolAttrs)
		if !ok || n.Class == "GlobalAveragePooling2D" || n.Class == "GlobalMaxPooling2D" {
			continue
		}
		in := n.Inputs[0].Shape
		if a.Padding == "valid" && a.PoolH == in[0] && a.PoolW == in[1] {
			m[n.Name] = true
		}
	}
	return m
}

// overrideShape applies Options.InputShape to a declared input shape.
func (b *builder) overrideShape(shape []int) ([]int, error) {
	if b.inputShape == nil {
		return shape, nil
	}
	if len(b.inputShape) != len(shape) {
		return nil, fmt.Errorf("input shape override %s has rank %d, the model's input %s has rank %d", shapeStr(b.inputShape), len(b.inputShape), shapeStr(shape), len(shape))
	}
	for _, d := range b.inputShape {
		if d < 1 || d > 1<<24 {
			return nil, fmt.Errorf("input shape override %s: dimensions must be positive", shapeStr(b.inputShape))
		}
	}
	if len(shape) > 0 && shape[len(shape)-1] != b.inputShape[len(shape)-1] {
		b.note("%s: input shape overridden from %s to %s, including the channel count", b.file, shapeStr(shape), shapeStr(b.inputShape))
	}
	return slices.Clone(b.inputShape), nil
}

// add appends a node producing one new tensor named like the node.
func (b *builder) add(name, class string, op ir.Op, ins []*ir.Tensor, shape []int, q ir.Quant, attrs any) *ir.Tensor {
	t := &ir.Tensor{Name: name, Shape: shape, Quant: q}
	b.g.Nodes = append(b.g.Nodes, &ir.Node{Name: name, Class: class, Op: op, Inputs: ins, Outputs: []*ir.Tensor{t}, Attrs: attrs})
	return t
}

func (b *builder) note(format string, args ...any) {
	b.g.Notes = append(b.g.Notes, fmt.Sprintf(format, args...))
}

// kerasActivations are the activation functions dqnn computes.
var kerasActivations = map[string]bool{"linear": true, "relu": true, "softmax": true, "tanh": true, "sigmoid": true}

// activation splits a layer's activation= into a Keras function (kept in
// the layer's Attrs) or a quantizer (its own OpQuantize node).
func activation(v any) (string, *ir.Quantizer, error) {
	switch t := v.(type) {
	case nil:
		return "linear", nil, nil
	case string:
		if kerasActivations[t] {
			return t, nil, nil
		}
		q, err := quant.ParseString(t)
		if errors.Is(err, quant.ErrNotQuantizer) {
			return "", nil, fmt.Errorf("activation %q is not supported; use linear, relu, softmax, tanh, sigmoid or a QKeras/Larq quantizer", t)
		}
		if err != nil {
			return "", nil, fmt.Errorf("activation: %w", err)
		}
		return "linear", q, nil
	case map[string]any:
		// Keras 3 may serialize a plain function as {"class_name": "function", "config": "relu"}.
		if s, ok := t["config"].(string); ok {
			return activation(s)
		}
		q, err := quant.Parse(t)
		if err != nil {
			return "", nil, fmt.Errorf("activation: %w", err)
		}
		return "linear", q, nil
	}
	return "", nil, fmt.Errorf("activation must be a string or an object, got %s", compactJSON(v))
}

// quantizeNode adds an OpQuantize node applying an activation quantizer.
func (b *builder) quantizeNode(name, class string, in *ir.Tensor, q *ir.Quantizer, role string) (*ir.Tensor, error) {
	if err := quant.CheckActivation(q); err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	if err := checkEvaluable(q); err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	return b.add(name, class, ir.OpQuantize, []*ir.Tensor{in}, slices.Clone(in.Shape), quant.OutputQuant(q), &ir.QuantizeAttrs{Quantizer: q}), nil
}

// checkEvaluable runs q on a probe so unsupported arguments fail at import, not at run time.
func checkEvaluable(q *ir.Quantizer) error {
	_, err := quant.Apply(q, []float32{-1.5, -0.25, 0, 0.25, 1.5, 3}, []int{6})
	return err
}

// passQuant is the Quant of a tensor whose values a layer moves but does not
// change (pooling max, reshape, concat): kept when it is per-tensor.
func passQuant(q ir.Quant) ir.Quant {
	if len(q.Scale) > 1 {
		return ir.Float()
	}
	return q
}

func sameQuant(a, b ir.Quant) bool {
	return a.DType == b.DType && slices.Equal(a.Scale, b.Scale) && a.ZeroPoint == b.ZeroPoint && a.QMin == b.QMin && a.QMax == b.QMax
}

func shapeStr(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(p, ", ") + ")"
}
