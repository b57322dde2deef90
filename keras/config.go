package keras

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// model is a Keras model config reduced to what the importer needs.
type model struct {
	class   string // "Sequential", "Functional", "Model"
	name    string
	layers  []*layer
	inputs  []ref // Functional input_layers
	outputs []ref // Functional output_layers

	buildShape []any // Sequential build_input_shape, when the model was built without an InputLayer
	// keras3 is set for configs written by Keras 3 ("module" keys), whose
	// TensorFlow backend computes BatchNormalization with
	// tf.nn.batch_normalization at every rank (never the fused kernel).
	keras3 bool
}

// layer is one entry of the config's "layers" list.
type layer struct {
	class   string
	name    string
	config  map[string]any
	inbound [][]ref // one entry per call of the layer; nil for Sequential
	index   int     // position in the layers list
}

// ref points at a tensor produced by a layer call: keras_history.
type ref struct {
	layer          string
	node, tensorID int
}

// parseModelJSON decodes a model config (as found in model_config, a .json
// architecture file or a .keras config.json). Double-encoded JSON (a JSON
// string whose content is the model) and TF SavedModel tuples
// ({"class_name": "__tuple__", "items": [...]}) are accepted.
func parseModelJSON(data []byte) (*model, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("model config is not valid JSON: %w", err)
	}
	for depth := 0; ; depth++ {
		s, ok := v.(string)
		if !ok {
			break
		}
		if depth >= 2 {
			return nil, fmt.Errorf("model config is a JSON string nested more than twice")
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("model config is a JSON string whose content is not valid JSON: %w", err)
		}
	}
	v = untuple(v)
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("model config must be a JSON object, got %s", kind(v))
	}
	// Some savers wrap the model: {"model_config": {...}} or keras_metadata-like {"config": ...}.
	if mc, ok := top["model_config"].(map[string]any); ok {
		top = mc
	}
	return parseModel(top)
}

// untuple replaces {"class_name": "__tuple__", "items": [...]} by the list.
func untuple(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t["class_name"] == "__tuple__" {
			if items, ok := t["items"].([]any); ok {
				return untuple(items)
			}
		}
		for k, x := range t {
			t[k] = untuple(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = untuple(x)
		}
	}
	return v
}

func parseModel(top map[string]any) (*model, error) {
	class, _ := top["class_name"].(string)
	m := &model{class: class}
	_, m.keras3 = top["module"]
	var layersV any
	switch class {
	case "Sequential", "Functional", "Model":
		switch c := top["config"].(type) {
		case map[string]any:
			m.name, _ = c["name"].(string)
			layersV = c["layers"]
			m.buildShape, _ = c["build_input_shape"].([]any)
			if class != "Sequential" {
				var err error
				if m.inputs, err = parseEndpoints(c["input_layers"]); err != nil {
					return nil, fmt.Errorf("input_layers: %w", err)
				}
				if m.outputs, err = parseEndpoints(c["output_layers"]); err != nil {
					return nil, fmt.Errorf("output_layers: %w", err)
				}
			}
		case []any: // Keras <= 2.2 Sequential: config is the layer list
			layersV = c
		default:
			return nil, fmt.Errorf("model %q has no \"config\" object", class)
		}
	case "":
		return nil, fmt.Errorf("model config has no \"class_name\"; is this a Keras model file?")
	default:
		return nil, fmt.Errorf("model class %q is not supported (want Sequential or Functional); subclassed models cannot be imported, rebuild the model with the Functional API", class)
	}
	list, ok := layersV.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("model %q has no layers", m.name)
	}
	names := map[string]bool{}
	for i, lv := range list {
		lm, ok := lv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("layer #%d is not an object", i)
		}
		if _, ok := lm["module"]; ok {
			m.keras3 = true
		}
		l := &layer{index: i}
		l.class, _ = lm["class_name"].(string)
		if l.class == "" {
			return nil, fmt.Errorf("layer #%d has no class_name", i)
		}
		l.config, _ = lm["config"].(map[string]any)
		if l.config == nil {
			l.config = map[string]any{}
		}
		l.name, _ = lm["name"].(string)
		if l.name == "" {
			l.name, _ = l.config["name"].(string)
		}
		if l.name == "" {
			return nil, fmt.Errorf("layer #%d (%s) has no name", i, l.class)
		}
		if names[l.name] {
			return nil, fmt.Errorf("layer name %q is used twice", l.name)
		}
		names[l.name] = true
		if class != "Sequential" {
			nodes, err := parseInbound(lm["inbound_nodes"])
			if err != nil {
				return nil, fmt.Errorf("layer %q (%s): inbound_nodes: %w", l.name, l.class, err)
			}
			l.inbound = nodes
		}
		m.layers = append(m.layers, l)
	}
	if class != "Sequential" && len(m.inputs) == 0 {
		return nil, fmt.Errorf("functional model %q has no input_layers", m.name)
	}
	if class != "Sequential" && len(m.outputs) == 0 {
		return nil, fmt.Errorf("functional model %q has no output_layers", m.name)
	}
	return m, nil
}

// parseEndpoints reads input_layers/output_layers: [[name, node, tensor], ...]
// or, in Keras 3 single-endpoint models, [name, node, tensor].
func parseEndpoints(v any) ([]ref, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("want a list, got %s", kind(v))
	}
	if len(list) > 0 {
		if _, isName := list[0].(string); isName {
			r, err := parseRef(list)
			if err != nil {
				return nil, err
			}
			return []ref{r}, nil
		}
	}
	var out []ref
	for _, e := range list {
		r, err := parseRef(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRef reads [name, node_index, tensor_index(, kwargs)].
func parseRef(v any) (ref, error) {
	l, ok := v.([]any)
	if !ok || len(l) < 3 {
		return ref{}, fmt.Errorf("want [layer, node_index, tensor_index], got %s", compactJSON(v))
	}
	name, ok1 := l[0].(string)
	n, ok2 := l[1].(float64)
	t, ok3 := l[2].(float64)
	if !ok1 || !ok2 || !ok3 || n < 0 || t < 0 || n != float64(int(n)) || t != float64(int(t)) {
		return ref{}, fmt.Errorf("want [layer, node_index, tensor_index], got %s", compactJSON(v))
	}
	return ref{layer: name, node: int(n), tensorID: int(t)}, nil
}

// parseInbound reads inbound_nodes in Keras 2 form ([[[name, n, t, {}], ...]])
// or Keras 3 form ([{"args": [...], "kwargs": {...}}] with __keras_tensor__
// objects carrying keras_history).
func parseInbound(v any) ([][]ref, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("want a list, got %s", kind(v))
	}
	var out [][]ref
	for _, node := range list {
		switch n := node.(type) {
		case []any: // Keras 2
			var refs []ref
			for _, e := range n {
				r, err := parseRef(e)
				if err != nil {
					return nil, err
				}
				refs = append(refs, r)
			}
			out = append(out, refs)
		case map[string]any: // Keras 3
			var refs []ref
			var err error
			walkTensors(n["args"], func(h any) {
				if err != nil {
					return
				}
				var r ref
				r, err = parseRef(h)
				refs = append(refs, r)
			})
			if err != nil {
				return nil, err
			}
			out = append(out, refs)
		default:
			return nil, fmt.Errorf("node must be a list or an object, got %s", kind(n))
		}
	}
	return out, nil
}

// walkTensors calls f with the keras_history of every __keras_tensor__ in v, in order.
func walkTensors(v any, f func(history any)) {
	switch t := v.(type) {
	case map[string]any:
		if t["class_name"] == "__keras_tensor__" {
			if c, ok := t["config"].(map[string]any); ok {
				f(c["keras_history"])
			}
			return
		}
		for _, k := range sortedKeys(t) {
			walkTensors(t[k], f)
		}
	case []any:
		for _, x := range t {
			walkTensors(x, f)
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// snakeCase is Keras 3's to_snake_case, used for .keras weight keys.
func snakeCase(name string) string {
	var clean []rune
	for _, r := range name {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			clean = append(clean, r)
		}
	}
	// (.)([A-Z][a-z]+) -> \1_\2
	var b []rune
	for i, r := range clean {
		if i > 0 && isUpper(r) && i+1 < len(clean) && isLower(clean[i+1]) {
			b = append(b, '_')
		}
		b = append(b, r)
	}
	// ([a-z])([A-Z]) -> \1_\2
	var c []rune
	for i, r := range b {
		if i > 0 && isUpper(r) && isLower(b[i-1]) {
			c = append(c, '_')
		}
		c = append(c, r)
	}
	return strings.ToLower(string(c))
}

func isUpper(r rune) bool { return r >= 'A' && r <= 'Z' }
func isLower(r rune) bool { return r >= 'a' && r <= 'z' }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
