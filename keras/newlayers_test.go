package keras_test

import (
	"strings"
	"testing"
)

// TestNewLayerErrors checks that bad configurations of the issue-13 layers
// fail with an error naming the file, the layer and what to change.
func TestNewLayerErrors(t *testing.T) {
	img := `{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 6, 6, 3]}}`
	seq := func(layers ...string) string {
		return `{"class_name": "Sequential", "config": {"name": "m", "layers": [` + strings.Join(layers, ",") + `]}}`
	}
	for _, tc := range []struct{ model, want string }{
		{seq(img, `{"class_name": "QSeparableConv2D", "config": {"name": "s", "filters": 4}}`), "kernel_size is missing"},
		{seq(img, `{"class_name": "SeparableConv2D", "config": {"name": "s", "filters": 4, "kernel_size": [3, 3], "depth_multiplier": 0}}`), "depth_multiplier must be a positive integer"},
		{seq(img, `{"class_name": "SeparableConv2D", "config": {"name": "s", "filters": 4, "kernel_size": [9, 9]}}`), "smaller than the kernel"},
		{seq(`{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8]}}`,
			`{"class_name": "QSeparableConv2D", "config": {"name": "s", "filters": 4, "kernel_size": 3}}`), "needs a rank-4 input"},
		{seq(img, `{"class_name": "QAveragePooling2D", "config": {"name": "p", "pool_size": [3, 3], "average_quantizer": "quantized_bits(2,0,alpha=1)"}}`), "maps 1/9 to 0"},
		{seq(img, `{"class_name": "QAveragePooling2D", "config": {"name": "p", "pool_size": [2, 2], "activation": "relu"}}`), `activation "relu" is not supported`},
		{seq(img, `{"class_name": "QGlobalAveragePooling2D", "config": {"name": "p", "average_quantizer": "quantized_bits(4, foo=1)"}}`), "average_quantizer"},
		{seq(`{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 10, 3]}}`,
			`{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": [3], "strides": [2], "dilation_rate": [2]}}`), "TensorFlow does not allow both"},
	} {
		_, err := loadJSON(t, tc.model)
		if err == nil || !strings.Contains(err.Error(), "m.json") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerr = %v, want the file and %q", tc.model, err, tc.want)
		}
	}
}
