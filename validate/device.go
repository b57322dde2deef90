package validate

import (
	"context"
	"fmt"
	"time"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/target"
)

// Device runs a model library that validate neither builds nor starts: a
// board running the validation firmware over a serial link (package board).
// Check compares what it returns exactly as it compares a runner's output.
type Device interface {
	// String names the device for the report ("serial:/dev/ttyACM0 (netduinoplus2)").
	String() string
	// CPU is the core the device's library was compiled for; validate
	// compiles the same model for it to learn the lowered tensor types.
	CPU() target.CPU
	// Run checks that the device runs lib (compiled from g, the model
	// identified by lib.SHA256), runs every sample (inputs[s][i]: sample s of
	// input i) and returns the outputs and, with perLayer, the traced tensors.
	Run(ctx context.Context, g *ir.Graph, lib Library, inputs [][][]float32, perLayer bool) (*RunnerOutput, error)
}

// checkDevice is Check for a Device: run there, compare here.
func checkDevice(ctx context.Context, g *ir.Graph, lib Library, inputs [][][]float32, opt CheckOptions) (*Report, error) {
	rep := &Report{Model: g.Name, Target: opt.Device.String(), Samples: len(inputs), Tolerances: opt.Tol}
	start := time.Now()
	out, err := opt.Device.Run(ctx, g, lib, inputs, opt.PerLayer)
	if err != nil {
		return nil, fmt.Errorf("model %s on %s: %w", lib.Name, opt.Device, err)
	}
	rep.RunTime = time.Since(start)
	if len(out.Outputs) != len(inputs) {
		return nil, fmt.Errorf("model %s on %s: %d results for %d samples", lib.Name, opt.Device, len(out.Outputs), len(inputs))
	}
	rep.CodeOutputs = out.Outputs
	if err := rep.compare(g, lib, inputs, out, opt); err != nil {
		return nil, err
	}
	return rep, nil
}
