package keras

import (
	"fmt"
	"math"
)

// cfg wraps a layer config with typed getters whose errors name the key.
type cfg map[string]any

func (c cfg) has(k string) bool { _, ok := c[k]; return ok && c[k] != nil }

func (c cfg) str(k, def string) (string, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("argument %s must be a string, got %s", k, compactJSON(c[k]))
}

func (c cfg) boolean(k string, def bool) (bool, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case float64:
		return v != 0, nil
	}
	return false, fmt.Errorf("argument %s must be a boolean, got %s", k, compactJSON(c[k]))
}

func (c cfg) float(k string, def float64) (float64, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case float64:
		return v, nil
	}
	return 0, fmt.Errorf("argument %s must be a number, got %s", k, compactJSON(c[k]))
}

func (c cfg) integer(k string, def int) (int, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<30 {
			return int(v), nil
		}
	}
	return 0, fmt.Errorf("argument %s must be an integer, got %s", k, compactJSON(c[k]))
}

// pair reads an int or a 2-list (kernel_size, strides, pool_size, dilation_rate).
func (c cfg) pair(k string, def [2]int) ([2]int, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case float64:
		if v == math.Trunc(v) && v >= 1 && v < 1<<20 {
			return [2]int{int(v), int(v)}, nil
		}
	case []any:
		if len(v) == 2 {
			a, ok1 := v[0].(float64)
			b, ok2 := v[1].(float64)
			if ok1 && ok2 && a == math.Trunc(a) && b == math.Trunc(b) && a >= 1 && b >= 1 && a < 1<<20 && b < 1<<20 {
				return [2]int{int(a), int(b)}, nil
			}
		}
	}
	return def, fmt.Errorf("argument %s must be a positive integer or a pair of them, got %s", k, compactJSON(c[k]))
}

// shape reads a batch shape list like [null, 28, 28, 1] and drops the batch.
func (c cfg) batchShape(k string) ([]int, bool, error) {
	v, ok := c[k].([]any)
	if !ok {
		return nil, false, nil
	}
	if len(v) < 2 {
		return nil, true, fmt.Errorf("argument %s %s has no dimensions besides the batch", k, compactJSON(v))
	}
	var out []int
	for _, d := range v[1:] {
		f, ok := d.(float64)
		if !ok || f < 1 || f != math.Trunc(f) || f > 1<<24 {
			return nil, true, fmt.Errorf("argument %s %s: every dimension but the batch must be a positive integer; give the input a fixed shape", k, compactJSON(v))
		}
		out = append(out, int(f))
	}
	return out, true, nil
}
