package testenv

import "testing"

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true} {
		t.Setenv("CI", v)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", v, got, want)
		}
	}
}

// fakeTB records how Need ended the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestNeedSkipsLocallyAndFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	f := &fakeTB{}
	NeedCmd(f, "no-such-program-dqnn")
	if !f.skipped || f.failed {
		t.Errorf("outside CI: skipped %v failed %v, want a skip", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = &fakeTB{}
	NeedFile(f, "a file", "/no/such/file/dqnn")
	if f.skipped || !f.failed {
		t.Errorf("under CI: skipped %v failed %v, want a failure", f.skipped, f.failed)
	}
	f = &fakeTB{}
	Need(f, "nothing", nil)
	if f.skipped || f.failed {
		t.Error("a met requirement stopped the test")
	}
}
