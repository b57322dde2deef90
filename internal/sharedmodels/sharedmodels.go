// Package sharedmodels locates the folder of real QKeras/Larq model files
// that tests use. The files are public models kept outside the repository
// (never copied into it); tests that need them skip with a message when the
// folder is absent.
package sharedmodels

import (
	"os"
	"path/filepath"
)

// Env names the variable that overrides where the models are.
const Env = "DQNN_SHARED_MODELS"

// fallback is where the development machines keep the folder.
const fallback = "/work/shared/models"

// Dir returns the models folder: $DQNN_SHARED_MODELS when set, else
// shared/models beside the module root (where CI lays a copy next to its
// clone), else /work/shared/models. The folder may not exist.
func Dir() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	if root := moduleRoot(); root != "" {
		d := filepath.Join(filepath.Dir(root), "shared", "models")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return fallback
}

// Path joins elem onto Dir.
func Path(elem ...string) string {
	return filepath.Join(append([]string{Dir()}, elem...)...)
}

// moduleRoot walks up from the working directory to the folder holding
// go.mod; "" when there is none (e.g. under Bazel's runfiles).
func moduleRoot() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return ""
		}
		d = up
	}
}
