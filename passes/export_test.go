package passes

// CheckOrder exposes checkOrder to the external tests.
var CheckOrder = checkOrder
