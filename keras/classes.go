package keras

import (
	"sort"

	"github.com/dqnn/dqnn/ir"
)

// converter adds the nodes of one layer of a class and returns its output
// tensor; ins holds one input unless the class merges.
type converter func(b *builder, l *layer, c cfg, ins []*ir.Tensor) (*ir.Tensor, error)

// one adapts a converter of single-input layers.
func one(f func(*builder, *layer, cfg, *ir.Tensor) (*ir.Tensor, error)) converter {
	return func(b *builder, l *layer, c cfg, ins []*ir.Tensor) (*ir.Tensor, error) { return f(b, l, c, ins[0]) }
}

// absorb says what a layer takes over from the layers around it, so that
// they produce no node of their own.
type absorb uint8

const (
	// absorbsPadding: a ZeroPadding2D input becomes the layer's explicit
	// padding (builder.zeroPadding).
	absorbsPadding absorb = 1 << iota
	// absorbsBatchNorm: the layer is a QKeras *Batchnorm class whose
	// batch-norm is folded into its kernel and bias (builder.foldedWeights).
	absorbsBatchNorm
)

// layerClass is how the importer handles one Keras layer class.
type layerClass struct {
	merge   bool      // takes its inputs as a list (Add, Concatenate); other classes take one input
	input2D bool      // needs a Keras rank-4 input [batch, height, width, channels]
	oneD    string    // a 1-D layer: the 2-D class it runs as, with height 1 (see oned.go); convert is nil
	absorbs absorb    // what it takes over from the layers around it
	convert converter // nil for a 1-D class
}

// layerClasses lists every layer class the importer converts. InputLayer is
// not among them: the model builder reads it (builder.input). It is filled
// by init because converters consult it (foldedWeights, oneDLayer), which
// a package-level initializer may not.
var layerClasses map[string]layerClass

func init() {
	layerClasses = classTable()
	supported = []string{"InputLayer"}
	for c := range layerClasses {
		supported = append(supported, c)
	}
	sort.Strings(supported)
}

func classTable() map[string]layerClass {
	conv2D := layerClass{input2D: true, absorbs: absorbsPadding, convert: one((*builder).conv)}
	folded2D := layerClass{input2D: true, absorbs: absorbsPadding | absorbsBatchNorm, convert: one((*builder).conv)}
	separable := layerClass{input2D: true, convert: one((*builder).separable)}
	pool2D := layerClass{input2D: true, convert: one((*builder).pool)}
	globalPool := layerClass{input2D: true, convert: one((*builder).globalPool)}
	qAvgPool := layerClass{input2D: true, convert: one((*builder).qAvgPool)}
	dense := layerClass{convert: one((*builder).dense)}
	batchNorm := layerClass{convert: one((*builder).batchNorm)}
	identity := layerClass{convert: one(dropout)}
	return map[string]layerClass{
		// Fully connected.
		"Dense": dense, "QDense": dense, "QuantDense": dense,
		"QDenseBatchnorm": {convert: one((*builder).dense), absorbs: absorbsBatchNorm},

		// Convolutions (conv.go), separable ones (separable.go).
		"Conv2D": conv2D, "QConv2D": conv2D, "QuantConv2D": conv2D, "QConv2DBatchnorm": folded2D,
		"DepthwiseConv2D": conv2D, "QDepthwiseConv2D": conv2D, "QuantDepthwiseConv2D": conv2D, "QDepthwiseConv2DBatchnorm": folded2D,
		"QConv2DTranspose": {input2D: true, convert: one((*builder).conv)},
		"SeparableConv2D":  separable, "QSeparableConv2D": separable, "QuantSeparableConv2D": separable,

		// Batch normalization (batchnorm.go).
		"BatchNormalization": batchNorm, "QBatchNormalization": batchNorm,

		// Pooling (pool.go, qpool.go).
		"MaxPooling2D": pool2D, "MaxPool2D": pool2D, "AveragePooling2D": pool2D, "AvgPool2D": pool2D,
		"GlobalAveragePooling2D": globalPool, "GlobalAvgPool2D": globalPool, "GlobalMaxPooling2D": globalPool, "GlobalMaxPool2D": globalPool,
		"QAveragePooling2D": qAvgPool, "QGlobalAveragePooling2D": qAvgPool,

		// 1-D layers, run as their 2-D forms (oned.go).
		"Conv1D": {oneD: "Conv2D"}, "QConv1D": {oneD: "QConv2D"}, "QuantConv1D": {oneD: "QuantConv2D"},
		"MaxPooling1D": {oneD: "MaxPooling2D"}, "MaxPool1D": {oneD: "MaxPooling2D"},
		"AveragePooling1D": {oneD: "AveragePooling2D"}, "AvgPool1D": {oneD: "AveragePooling2D"},
		"GlobalAveragePooling1D": {oneD: "GlobalAveragePooling2D"}, "GlobalAvgPool1D": {oneD: "GlobalAveragePooling2D"},
		"GlobalMaxPooling1D": {oneD: "GlobalMaxPooling2D"}, "GlobalMaxPool1D": {oneD: "GlobalMaxPooling2D"},

		// Activations (activation.go).
		"Activation": {convert: one((*builder).activationLayer)}, "QActivation": {convert: one((*builder).qActivation)},
		"ReLU": {convert: one((*builder).relu)}, "Softmax": {convert: one((*builder).softmax)},

		// Shapes (shape.go); inference-time identities.
		"Flatten": {convert: one((*builder).flatten)}, "Reshape": {convert: one((*builder).reshape)},
		"ZeroPadding2D": {input2D: true, convert: one((*builder).zeroPadding)},
		"Dropout":       identity, "SpatialDropout2D": identity,

		// Merges (merge.go).
		"Add": {merge: true, convert: (*builder).addLayer}, "Concatenate": {merge: true, convert: (*builder).concat},
	}
}

// nestedModels are the classes of a model used as a layer.
var nestedModels = map[string]bool{"Sequential": true, "Functional": true, "Model": true}

// supported lists the layer classes the importer reads, sorted, for
// messages: the table's and InputLayer.
var supported []string
