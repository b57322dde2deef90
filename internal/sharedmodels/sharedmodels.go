// Package sharedmodels locates the folder of real QKeras/Larq model files
// that tests use. The files are public models kept outside the repository
// (never copied into it). Tests reach them through Require, which skips with
// a message when the folder is absent on a developer's machine and fails
// under CI, which always has it.
package sharedmodels

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
)

// Env names the variable that overrides where the models are.
const Env = "DQNN_SHARED_MODELS"

// Dir returns the models folder: $DQNN_SHARED_MODELS when set, else
// shared/models beside the module root (where CI lays a copy next to its
// clone); "" when neither is known (e.g. under Bazel without the variable).
func Dir() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	if root := moduleRoot(); root != "" {
		return filepath.Join(filepath.Dir(root), "shared", "models")
	}
	return ""
}

// Path joins elem onto Dir; "" when Dir is unknown.
func Path(elem ...string) string {
	d := Dir()
	if d == "" {
		return ""
	}
	return filepath.Join(append([]string{d}, elem...)...)
}

// Require returns Path(elem...) when that file or folder exists; otherwise
// it skips the test (fails it under CI) with a message saying where it
// looked and how to point it elsewhere.
func Require(t testing.TB, elem ...string) string {
	t.Helper()
	p := Path(elem...)
	var err error
	if p == "" {
		err = errors.New("set " + Env + " to the shared models folder")
	} else if _, err = os.Stat(p); err != nil {
		err = errors.New(err.Error() + " (set " + Env + " to the shared models folder)")
	}
	testenv.Need(t, "the shared models folder", err)
	return p
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
