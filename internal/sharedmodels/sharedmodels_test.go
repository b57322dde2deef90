package sharedmodels

import (
	"path/filepath"
	"testing"
)

func TestEnvOverrides(t *testing.T) {
	t.Setenv(Env, "/elsewhere/models")
	if got := Path("qkeras", "a.h5"); got != filepath.Join("/elsewhere/models", "qkeras", "a.h5") {
		t.Errorf("Path = %q", got)
	}
}

func TestDefault(t *testing.T) {
	t.Setenv(Env, "")
	if Dir() == "" {
		t.Fatal("Dir is empty")
	}
}
