// Package quant parses QKeras and Larq quantizers as they appear in saved
// Keras configs into ir.Quantizer values (canonical class name, arguments
// with defaults filled in) and applies them in float32 exactly as Keras's
// model.predict does (see shared spec keras-quantizer-semantics.md).
//
// It knows nothing about layers or files: package keras decides where a
// quantizer sits, package interp runs it.
package quant

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/ir"
)

// param is one constructor argument of a quantizer class, in positional order.
type param struct {
	name string
	def  any // float64, bool, string or nil
}

// classInfo describes one canonical quantizer class.
type classInfo struct {
	params []param
	larq   bool
}

// classes lists every quantizer dqnn understands, keyed by canonical name.
// Positional order follows the Python constructors (QKeras HEAD, Larq 0.13),
// because string forms like "quantized_bits(4,0,1)" are positional.
var classes = map[string]classInfo{
	"quantized_bits": {params: []param{{"bits", 8.0}, {"integer", 0.0}, {"symmetric", 0.0}, {"keep_negative", true},
		{"alpha", nil}, {"use_stochastic_rounding", false}, {"scale_axis", nil}, {"qnoise_factor", 1.0},
		{"var_name", nil}, {"use_ste", true}, {"use_variables", false}, {"elements_per_scale", nil},
		{"min_po2_exponent", nil}, {"max_po2_exponent", nil}, {"post_training_scale", nil}}},
	"quantized_relu": {params: []param{{"bits", 8.0}, {"integer", 0.0}, {"use_sigmoid", 0.0}, {"negative_slope", 0.0},
		{"use_stochastic_rounding", false}, {"relu_upper_bound", nil}, {"is_quantized_clip", true},
		{"qnoise_factor", 1.0}, {"var_name", nil}, {"use_ste", true}, {"use_variables", false}}},
	"quantized_tanh": {params: []param{{"bits", 8.0}, {"use_stochastic_rounding", false}, {"symmetric", false},
		{"use_real_tanh", false}}},
	"binary": {params: []param{{"use_01", false}, {"alpha", nil}, {"use_stochastic_rounding", false},
		{"scale_axis", nil}, {"elements_per_scale", nil}, {"min_po2_exponent", nil}, {"max_po2_exponent", nil}}},
	"stochastic_binary": {params: []param{{"alpha", nil}, {"temperature", 6.0}, {"use_real_sigmoid", true}}},
	"ternary": {params: []param{{"alpha", nil}, {"threshold", nil}, {"use_stochastic_rounding", false},
		{"number_of_unrolls", 5.0}}},
	"stochastic_ternary": {params: []param{{"alpha", nil}, {"threshold", nil}, {"temperature", 8.0},
		{"use_real_sigmoid", true}, {"number_of_unrolls", 5.0}}},
	"quantized_po2": {params: []param{{"bits", 8.0}, {"max_value", nil}, {"use_stochastic_rounding", false},
		{"quadratic_approximation", false}, {"log2_rounding", "rnd"}, {"qnoise_factor", 1.0},
		{"var_name", nil}, {"use_ste", true}, {"use_variables", false}}},
	"quantized_relu_po2": {params: []param{{"bits", 8.0}, {"max_value", nil}, {"negative_slope", 0.0},
		{"use_stochastic_rounding", false}, {"quadratic_approximation", false}, {"log2_rounding", "rnd"},
		{"qnoise_factor", 1.0}, {"var_name", nil}, {"use_ste", true}, {"use_variables", false}}},
	// Larq quantizers.
	"ste_sign":             {larq: true, params: []param{{"clip_value", 1.0}}},
	"approx_sign":          {larq: true},
	"swish_sign":           {larq: true, params: []param{{"beta", 5.0}}},
	"ste_heaviside":        {larq: true, params: []param{{"clip_value", 1.0}}},
	"ste_tern":             {larq: true, params: []param{{"threshold_value", 0.05}, {"ternary_weight_networks", false}, {"clip_value", 1.0}}},
	"magnitude_aware_sign": {larq: true, params: []param{{"clip_value", 1.0}}},
	"dorefa":               {larq: true, params: []param{{"k_bit", 2.0}, {"mode", "activations"}}},
	"no_op":                {larq: true, params: []param{{"precision", nil}}},
}

// aliases maps every spelling found in saved configs to the canonical name.
// Larq names are case-sensitive (class name or registered alias).
var aliases = map[string]string{
	"SteSign": "ste_sign", "ste_sign": "ste_sign",
	"ApproxSign": "approx_sign", "approx_sign": "approx_sign",
	"SwishSign": "swish_sign", "swish_sign": "swish_sign",
	"SteHeaviside": "ste_heaviside", "ste_heaviside": "ste_heaviside",
	"SteTern": "ste_tern", "ste_tern": "ste_tern",
	"MagnitudeAwareSign": "magnitude_aware_sign", "magnitude_aware_sign": "magnitude_aware_sign",
	"DoReFa": "dorefa", "DoReFaQuantizer": "dorefa", "dorefa_quantizer": "dorefa",
	"NoOp": "no_op", "NoOpQuantizer": "no_op",
}

// ignoredKeys are config keys with no inference effect (Keras layer base keys,
// serialization bookkeeping, gradient-only arguments).
var ignoredKeys = map[string]bool{
	"name": true, "trainable": true, "dtype": true, "shared_object_id": true,
	"__passive_serialization__": true, "metrics": true,
}

// ErrNotQuantizer is returned (wrapped) by Parse for a string that names no
// quantizer, e.g. a Keras activation like "relu" given to QActivation.
var ErrNotQuantizer = fmt.Errorf("not a quantizer")

// IsQuantizerName reports whether name (any accepted spelling) is a quantizer class.
func IsQuantizerName(name string) bool {
	_, ok := canonical(name)
	return ok
}

func canonical(name string) (string, bool) {
	if c, ok := aliases[name]; ok {
		return c, true
	}
	if _, ok := classes[name]; ok {
		return name, true
	}
	return "", false
}

// Parse converts a quantizer as decoded from a Keras JSON config (a string
// such as "quantized_bits(4,0,1,alpha=1)", or a dict {"class_name", "config"}
// in Keras 2 or Keras 3 form) into an ir.Quantizer. A nil value returns nil.
func Parse(v any) (*ir.Quantizer, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return ParseString(t)
	case map[string]any:
		return parseDict(t)
	}
	return nil, fmt.Errorf("quantizer must be a string or an object, got %s", describe(v))
}

func parseDict(m map[string]any) (*ir.Quantizer, error) {
	cn, ok := m["class_name"].(string)
	if !ok {
		return nil, fmt.Errorf("quantizer object has no \"class_name\" string: %s", compact(m))
	}
	name, ok := canonical(cn)
	if !ok {
		return nil, fmt.Errorf("unknown quantizer class %q (supported: %s): %w", cn, strings.Join(Names(), ", "), ErrNotQuantizer)
	}
	cfg := map[string]any{}
	switch c := m["config"].(type) {
	case nil:
	case map[string]any:
		cfg = c
	default:
		return nil, fmt.Errorf("quantizer %q: \"config\" must be an object, got %s", cn, describe(c))
	}
	args := map[string]any{}
	for k, val := range cfg {
		args[k] = val
	}
	// Newer QKeras/Larq versions add config keys; one set to null cannot
	// change the value computed, so it is dropped rather than refused.
	known := map[string]bool{}
	for _, p := range classes[name].params {
		known[p.name] = true
	}
	for k, v := range args {
		if !known[k] && v == nil {
			delete(args, k)
		}
	}
	q, err := build(name, args, nil)
	if err != nil {
		return nil, err
	}
	q.Text = cn + "(" + argsText(q) + ")"
	return q, nil
}

// Names lists the canonical quantizer names, sorted.
func Names() []string {
	var out []string
	for n := range classes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// build fills defaults, checks argument names and types and canonicalises
// stochastic_ternary (= ternary at inference).
func build(name string, kw map[string]any, pos []any) (*ir.Quantizer, error) {
	info := classes[name]
	if len(pos) > len(info.params) {
		return nil, fmt.Errorf("%s: takes at most %d positional arguments, got %d", name, len(info.params), len(pos))
	}
	args := map[string]any{}
	known := map[string]bool{}
	for i, p := range info.params {
		known[p.name] = true
		args[p.name] = p.def
		if i < len(pos) {
			args[p.name] = pos[i]
		}
	}
	for k, v := range kw {
		if ignoredKeys[k] {
			continue
		}
		if !known[k] {
			if name == "quantized_tanh" && k == "integer" {
				return nil, fmt.Errorf("quantized_tanh: argument \"integer\" is from QKeras 0.9.0, whose quantized_tanh grid differs; re-save the model with current QKeras")
			}
			return nil, fmt.Errorf("%s: unknown argument %q", name, k)
		}
		args[k] = v
	}
	for _, p := range info.params {
		if err := checkType(name, p, args[p.name]); err != nil {
			return nil, err
		}
		args[p.name] = normalise(args[p.name])
	}
	if name == "stochastic_ternary" {
		name = "ternary"
		delete(args, "temperature")
		delete(args, "use_real_sigmoid")
		args["use_stochastic_rounding"] = false
	}
	return newQuantizer(name, args, ""), nil
}

// normalise turns JSON numbers into float64 and ints from the string parser alike.
func normalise(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case json.Number:
		f, _ := t.Float64()
		return f
	}
	return v
}

func checkType(class string, p param, v any) error {
	v = normalise(v)
	switch p.name {
	case "alpha":
		switch t := v.(type) {
		case nil, float64:
			return nil
		case bool:
			return nil
		case string:
			if t == "auto" || t == "auto_po2" {
				return nil
			}
		}
		return fmt.Errorf("%s: alpha must be null, a number, \"auto\" or \"auto_po2\", got %s", class, describe(v))
	case "mode", "log2_rounding":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %s must be a string, got %s", class, p.name, describe(v))
		}
		return nil
	case "var_name", "scale_axis", "elements_per_scale", "min_po2_exponent", "max_po2_exponent", "post_training_scale",
		"relu_upper_bound", "precision", "threshold", "max_value":
		return nil // checked where used
	}
	switch p.def.(type) {
	case float64:
		switch v.(type) {
		case float64, bool:
			return nil
		}
		return fmt.Errorf("%s: %s must be a number, got %s", class, p.name, describe(v))
	case bool:
		switch v.(type) {
		case float64, bool:
			return nil
		}
		return fmt.Errorf("%s: %s must be a boolean, got %s", class, p.name, describe(v))
	}
	return nil
}

// Num returns argument k of q as a float64 (booleans as 0/1) and whether it is set.
func Num(q *ir.Quantizer, k string) (float64, bool) {
	switch t := normalise(argsOf(q)[k]).(type) {
	case float64:
		return t, true
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Bool returns argument k of q as a boolean (numbers: non-zero).
func Bool(q *ir.Quantizer, k string) bool {
	f, _ := Num(q, k)
	return f != 0
}

// Str returns argument k of q if it is a string.
func Str(q *ir.Quantizer, k string) (string, bool) {
	s, ok := argsOf(q)[k].(string)
	return s, ok
}

// ParseString parses the string form QKeras's safe_eval accepts:
// `name`, `name(arg, ..., key=value, ...)` with numbers, booleans (True,
// False, true, false), None/null, quoted strings and "[a b]" lists.
func ParseString(s string) (*ir.Quantizer, error) {
	text := s
	s = strings.TrimSpace(s)
	name, rest := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 {
		if !strings.HasSuffix(s, ")") {
			return nil, fmt.Errorf("quantizer %q: missing closing parenthesis", text)
		}
		name, rest = strings.TrimSpace(s[:i]), s[i+1:len(s)-1]
	}
	if name == "" || strings.ContainsAny(name, " \t,=()[]\"'") {
		return nil, fmt.Errorf("quantizer %q: malformed name", text)
	}
	cn, ok := canonical(name)
	if !ok {
		return nil, fmt.Errorf("%q: unknown quantizer %q: %w", text, name, ErrNotQuantizer)
	}
	pos, kw, err := splitArgs(rest)
	if err != nil {
		return nil, fmt.Errorf("quantizer %q: %w", text, err)
	}
	q, err := build(cn, kw, pos)
	if err != nil {
		return nil, fmt.Errorf("quantizer %q: %w", text, err)
	}
	q.Text = text
	return q, nil
}

// splitArgs splits "a, b, k=v" at top-level commas (not inside quotes or brackets).
func splitArgs(s string) (pos []any, kw map[string]any, err error) {
	kw = map[string]any{}
	if strings.TrimSpace(s) == "" {
		return nil, kw, nil
	}
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
			if depth < 0 {
				return nil, nil, fmt.Errorf("unbalanced %q", c)
			}
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if quote != 0 || depth != 0 {
		return nil, nil, fmt.Errorf("unbalanced quotes or brackets")
	}
	parts = append(parts, s[start:])
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			if i == len(parts)-1 && i > 0 {
				continue // trailing comma
			}
			return nil, nil, fmt.Errorf("empty argument")
		}
		if eq := strings.IndexByte(p, '='); eq > 0 && !strings.ContainsAny(p[:eq], "\"'[") {
			k := strings.TrimSpace(p[:eq])
			v, err := literal(strings.TrimSpace(p[eq+1:]))
			if err != nil {
				return nil, nil, fmt.Errorf("argument %s: %w", k, err)
			}
			if _, dup := kw[k]; dup {
				return nil, nil, fmt.Errorf("argument %s given twice", k)
			}
			kw[k] = v
			continue
		}
		if len(kw) > 0 {
			return nil, nil, fmt.Errorf("positional argument %q after a keyword argument", p)
		}
		v, err := literal(p)
		if err != nil {
			return nil, nil, err
		}
		pos = append(pos, v)
	}
	return pos, kw, nil
}

func literal(s string) (any, error) {
	switch s {
	case "True", "true":
		return true, nil
	case "False", "false":
		return false, nil
	case "None", "null":
		return nil, nil
	}
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], nil
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		var out []any
		for _, f := range strings.FieldsFunc(s[1:len(s)-1], func(r rune) bool { return r == ' ' || r == ',' }) {
			v, err := literal(f)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("cannot read value %q (want a number, True/False, None or a quoted string)", s)
	}
	return f, nil
}

// String renders q compactly for reports: the text as written if known.
func String(q *ir.Quantizer) string {
	if q == nil {
		return ""
	}
	if q.Text != "" {
		return q.Text
	}
	return Canonical(q)
}

// Canonical renders q as "class(k=v, ...)" with only the arguments that
// differ from the defaults, keys sorted.
func Canonical(q *ir.Quantizer) string {
	if q == nil {
		return ""
	}
	return q.Class + "(" + argsText(q) + ")"
}

// argsText lists q's arguments that differ from the defaults, sorted.
func argsText(q *ir.Quantizer) string {
	info := classes[q.Class]
	var parts []string
	for _, p := range info.params {
		v := argsOf(q)[p.name]
		if fmt.Sprint(v) == fmt.Sprint(p.def) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%v", p.name, fmtVal(v)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func fmtVal(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case string:
		return strconv.Quote(t)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", v)
	case float64, int:
		return fmt.Sprintf("number %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
