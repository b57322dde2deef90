// Package fuzzseed writes the committed seed corpora of Go fuzz targets
// (testdata/fuzz/FuzzXxx/) from seeds that a test builds itself, so the
// corpora are reproducible and never copied from model collections.
package fuzzseed

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Write stores each seed of the fuzz target fuzz (a FuzzXxx taking one
// []byte) as testdata/fuzz/<fuzz>/seed-<hash> in the "go test fuzz v1"
// format, below the current directory (the package's, under go test).
func Write(fuzz string, seeds ...[]byte) error {
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range seeds {
		sum := sha256.Sum256(s)
		name := filepath.Join(dir, "seed-"+hex.EncodeToString(sum[:8]))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}
