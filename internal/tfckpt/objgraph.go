package tfckpt

import (
	"fmt"
	"math"
)

// ObjectGraph is the checkpoint's TrackableObjectGraph: node 0 is the saved
// root (the Keras model); children are named edges, attributes name the
// checkpoint keys of a node's saved values.
type ObjectGraph struct {
	Nodes []Node
}

// Node is one trackable object.
type Node struct {
	Children   []Child
	Attributes []Attribute
}

// Child is a named edge to another node.
type Child struct {
	Name string
	Node int
}

// Attribute is a saved value of a node (a SerializedTensor): for a
// variable, Name is "VARIABLE_VALUE", FullName the variable's name
// ("dense/kernel") and CheckpointKey its bundle key.
type Attribute struct {
	Name, FullName, CheckpointKey string
}

// ObjectGraph reads and decodes the bundle's object graph entry.
func (b *Bundle) ObjectGraph() (*ObjectGraph, error) {
	raw, err := b.scalarString(ObjectGraphKey)
	if err != nil {
		return nil, err
	}
	g, err := ParseObjectGraph(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.index, ObjectGraphKey, err)
	}
	return g, nil
}

// ParseObjectGraph decodes a serialized TrackableObjectGraph. Child node
// ids are checked to lie inside the graph.
func ParseObjectGraph(b []byte) (*ObjectGraph, error) {
	g := &ObjectGraph{}
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		if err := f.want(wireBytes, "nodes"); err != nil {
			return err
		}
		n, err := parseNode(f.b)
		if err != nil {
			return fmt.Errorf("node %d: %w", len(g.Nodes), err)
		}
		g.Nodes = append(g.Nodes, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(g.Nodes) == 0 {
		return nil, fmt.Errorf("the object graph has no nodes")
	}
	for i, n := range g.Nodes {
		for _, c := range n.Children {
			if c.Node < 0 || c.Node >= len(g.Nodes) {
				return nil, fmt.Errorf("node %d: child %q points at node %d, the graph has %d", i, c.Name, c.Node, len(g.Nodes))
			}
		}
	}
	return g, nil
}

func parseNode(b []byte) (Node, error) {
	var n Node
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1: // ObjectReference{node_id = 1, local_name = 2}
			if err := f.want(wireBytes, "children"); err != nil {
				return err
			}
			c := Child{}
			err := eachField(f.b, func(g field) error {
				switch g.num {
				case 1:
					if err := g.want(wireVarint, "node_id"); err != nil {
						return err
					}
					if g.u > math.MaxInt32 {
						return fmt.Errorf("node_id %d is out of range", g.u)
					}
					c.Node = int(g.u)
				case 2:
					if err := g.want(wireBytes, "local_name"); err != nil {
						return err
					}
					c.Name = string(g.b)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("child %d: %w", len(n.Children), err)
			}
			n.Children = append(n.Children, c)
		case 2: // SerializedTensor{name = 1, full_name = 2, checkpoint_key = 3}
			if err := f.want(wireBytes, "attributes"); err != nil {
				return err
			}
			var a Attribute
			err := eachField(f.b, func(g field) error {
				if g.num < 1 || g.num > 3 {
					return nil
				}
				if err := g.want(wireBytes, "attribute string"); err != nil {
					return err
				}
				switch g.num {
				case 1:
					a.Name = string(g.b)
				case 2:
					a.FullName = string(g.b)
				case 3:
					a.CheckpointKey = string(g.b)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("attribute %d: %w", len(n.Attributes), err)
			}
			n.Attributes = append(n.Attributes, a)
		}
		return nil
	})
	return n, err
}

// Child returns the node reached from node id by the edge named name.
func (g *ObjectGraph) Child(id int, name string) (int, bool) {
	for _, c := range g.Nodes[id].Children {
		if c.Name == name {
			return c.Node, true
		}
	}
	return 0, false
}

// Variable returns the VARIABLE_VALUE attribute of node id, if it is a variable.
func (g *ObjectGraph) Variable(id int) (Attribute, bool) {
	for _, a := range g.Nodes[id].Attributes {
		if a.Name == "VARIABLE_VALUE" {
			return a, true
		}
	}
	return Attribute{}, false
}
