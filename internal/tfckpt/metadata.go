package tfckpt

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/internal/safeio"
)

// SavedObject is one node of keras_metadata.pb (Keras's SavedMetadata
// proto, keras/protobuf/saved_metadata.proto): the object's id in the
// SavedModel object graph, its path from the root ("root.layer-1"), its
// Keras identifier ("_tf_keras_model", "_tf_keras_sequential",
// "_tf_keras_layer", ...) and its metadata, a JSON object.
type SavedObject struct {
	NodeID     int
	NodePath   string
	Identifier string
	Metadata   string
}

// ReadKerasMetadata reads and decodes a keras_metadata.pb file of at most
// maxFile bytes (the --max-file-size limit; a large model's is a few MB).
func ReadKerasMetadata(path string, maxFile int64) ([]SavedObject, error) {
	data, err := safeio.ReadFile(path, maxFile, safeio.FlagFile)
	if err != nil {
		return nil, err
	}
	objs, err := ParseKerasMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// ParseKerasMetadata decodes the bytes of a keras_metadata.pb.
func ParseKerasMetadata(b []byte) ([]SavedObject, error) {
	var out []SavedObject
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		if err := f.want(wireBytes, "nodes"); err != nil {
			return err
		}
		var o SavedObject
		err := eachField(f.b, func(g field) error {
			switch g.num {
			case 2:
				if err := g.want(wireVarint, "node_id"); err != nil {
					return err
				}
				if g.u > math.MaxInt32 {
					return fmt.Errorf("node_id %d is out of range", g.u)
				}
				o.NodeID = int(g.u)
			case 3, 4, 5:
				if err := g.want(wireBytes, "node_path/identifier/metadata"); err != nil {
					return err
				}
				switch g.num {
				case 3:
					o.NodePath = string(g.b)
				case 4:
					o.Identifier = string(g.b)
				case 5:
					o.Metadata = string(g.b)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node %d: %w", len(out), err)
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("not a valid keras_metadata.pb (SavedMetadata protobuf): %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keras_metadata.pb holds no objects (not a Keras SavedModel?)")
	}
	return out, nil
}
