package ref

import (
	"fmt"

	"github.com/dqnn/dqnn/gen/matrix"
)

// Case is one test vector of one kernel: its parameters (exactly the one
// params field of the kernel's family is set), operands and the reference's
// output. gen/vectors holds the generated cases; gen/harness runs them as C.
type Case struct {
	Kernel  string // kernel name, matrix.Kernel.Name
	Desc    string // what the case exercises
	Dense   *DenseParams
	Conv    *ConvParams
	Pool    *PoolParams
	Elem    *ElementwiseParams
	Concat  *ConcatParams
	Inputs  []Buf // one input; two for add; n for concat
	Weights Buf   // families with weights
	Stage   *OutputStage
	Want    Buf
}

// Eval runs the reference of the case's kernel on its operands.
func (c *Case) Eval() (Buf, error) {
	k, ok := matrix.ByName(c.Kernel)
	if !ok {
		return Buf{}, fmt.Errorf("case %q: unknown kernel %q", c.Desc, c.Kernel)
	}
	one := func() (Buf, error) {
		if len(c.Inputs) != 1 {
			return Buf{}, fmt.Errorf("case %q: %s takes one input, got %d", c.Desc, c.Kernel, len(c.Inputs))
		}
		return c.Inputs[0], nil
	}
	switch {
	case k.Op == matrix.Dense && c.Dense != nil:
		in, err := one()
		if err != nil {
			return Buf{}, err
		}
		return Dense(k, *c.Dense, in, c.Weights, c.Stage)
	case k.Op.IsConv() && c.Conv != nil:
		in, err := one()
		if err != nil {
			return Buf{}, err
		}
		return Conv(k, *c.Conv, in, c.Weights, c.Stage)
	case (k.Op == matrix.MaxPool || k.Op == matrix.AvgPool) && c.Pool != nil:
		in, err := one()
		if err != nil {
			return Buf{}, err
		}
		return Pool(k, *c.Pool, in)
	case k.Op == matrix.Concat && c.Concat != nil:
		return Concat(k, *c.Concat, c.Inputs)
	case c.Elem != nil:
		switch k.Op {
		case matrix.Add:
			if len(c.Inputs) != 2 {
				return Buf{}, fmt.Errorf("case %q: add takes two inputs", c.Desc)
			}
			return Add(k, *c.Elem, c.Inputs[0], c.Inputs[1])
		case matrix.Convert, matrix.Affine, matrix.Softmax, matrix.Relu, matrix.Tanh, matrix.Sigmoid:
			in, err := one()
			if err != nil {
				return Buf{}, err
			}
			switch k.Op {
			case matrix.Convert:
				return Convert(k, *c.Elem, in)
			case matrix.Affine:
				return Affine(k, *c.Elem, in, c.Stage)
			}
			return Unary(k, *c.Elem, in)
		}
	}
	return Buf{}, fmt.Errorf("case %q: kernel %s needs its family's params", c.Desc, c.Kernel)
}
