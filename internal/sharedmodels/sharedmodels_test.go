package sharedmodels

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnvOverrides(t *testing.T) {
	t.Setenv(Env, "/elsewhere/models")
	if got := Path("qkeras", "a.h5"); got != filepath.Join("/elsewhere/models", "qkeras", "a.h5") {
		t.Errorf("Path = %q", got)
	}
}

// TestDefaultBesideModuleRoot: without the variable the folder is
// shared/models beside the module root, wherever the clone is, and unknown
// ("") where there is no module root (Bazel's runfiles).
func TestDefaultBesideModuleRoot(t *testing.T) {
	t.Setenv(Env, "")
	want := ""
	if root := moduleRoot(); root != "" {
		want = filepath.Join(filepath.Dir(root), "shared", "models")
	}
	if got := Dir(); got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

// TestRequireFindsModels: the folder must be there (CI lays it beside the
// clone); a missing folder skips here and fails under CI.
func TestRequireFindsModels(t *testing.T) {
	p := Require(t, "PROVENANCE.md")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}
