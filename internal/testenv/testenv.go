// Package testenv decides what a test does when something it needs from the
// machine (a compiler, QEMU, the shared models folder) is missing: on a
// developer's machine it skips with a message; under CI (CI set to anything
// but "" or "false") it fails, because CI installs everything the suite needs
// and a skip there would hide lost coverage.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Need stops the test when err (what made the test's requirement unmet) is
// not nil: Skip on a developer's machine, Fatal under CI. what says what is
// needed, e.g. "QEMU for cortex-m4".
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("%s is required under CI: %v", what, err)
		return
	}
	t.Skipf("skipping: %s is not available: %v", what, err)
}

// NeedFile is Need for a file or folder that must exist.
func NeedFile(t testing.TB, what, path string) {
	t.Helper()
	_, err := os.Stat(path)
	Need(t, what, err)
}

// NeedCmd is Need for a program that must be on PATH; it returns its path.
func NeedCmd(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, name, err)
	return p
}
