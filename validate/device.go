package validate

import (
	"context"
	"fmt"
	"strings"
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
	rep := &Report{Model: g.SourceName(), Target: opt.Device.String(), Samples: len(inputs), Tolerances: opt.Tol}
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

// SizeMacros returns the names of the element-count macros the header of
// library name (compiled from g) defines for each input and output:
// NAME_IN_SIZE / NAME_OUT_SIZE, or NAME_IN<i>_SIZE / NAME_OUT<i>_SIZE when
// the model has several inputs or outputs. Programs wrapped around a library
// check its sizes at compile time with them.
func SizeMacros(g *ir.Graph, name string) (in, out []string) {
	upper := strings.ToUpper(name)
	multi := len(g.Inputs) > 1 || len(g.Outputs) > 1
	for i := range g.Inputs {
		if multi {
			in = append(in, fmt.Sprintf("%s_IN%d_SIZE", upper, i))
		} else {
			in = append(in, upper+"_IN_SIZE")
		}
	}
	for i := range g.Outputs {
		if multi {
			out = append(out, fmt.Sprintf("%s_OUT%d_SIZE", upper, i))
		} else {
			out = append(out, upper+"_OUT_SIZE")
		}
	}
	return in, out
}
