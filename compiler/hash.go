package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// HashFiles returns the hex sha256 of the files' contents, concatenated in
// order: the model identity that Options.SourceSHA256 records in the
// generated files' provenance and that a validation firmware reports.
func HashFiles(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("hashing the model: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
