package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestWriteSkipsUnchangedAndDeletesOnlyMarkedStale(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "k")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("same.c", Marker+"\nint a;\n")
	write("stale.c", Marker+"\nint b;\n")
	write("hand.c", "/* hand-written */\n")
	write("stale.txt", Marker+"\n")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "same.c"), old, old)

	files := map[string][]byte{"k/same.c": []byte(Marker + "\nint a;\n"), "k/new.c": []byte(Marker + "\nint c;\n")}
	written, deleted, err := Write(root, files, map[string][]string{"k": {"*.c", "*.h"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(written, ",") != "k/new.c" {
		t.Errorf("written = %v, want only k/new.c", written)
	}
	if strings.Join(deleted, ",") != "k/stale.c" {
		t.Errorf("deleted = %v, want only k/stale.c", deleted)
	}
	if st, _ := os.Stat(filepath.Join(dir, "same.c")); !st.ModTime().Equal(old) {
		t.Error("unchanged file was rewritten")
	}
	for _, keep := range []string{"hand.c", "stale.txt", "new.c"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".dqnngen-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestMissingKeyIsAnError(t *testing.T) {
	fsys := fstest.MapFS{"t/a.tmpl": {Data: []byte(`{{.Missing}}`)}}
	tm, err := Load(fsys, "t/*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Execute(tm, "t/a.tmpl", map[string]string{"Present": "x"}); err == nil {
		t.Error("a missing key rendered without error")
	}
	if _, err := Load(fsys, "none/*.tmpl"); err == nil {
		t.Error("a pattern matching nothing loaded")
	}
}

func TestFormatC(t *testing.T) {
	in := "int f(void) {\nif (a ||\nb) {\n      x = 1;\n}\n/* c\n * d */\n\n\n  return 0;   \n}\n"
	want := "int f(void) {\n  if (a ||\n      b) {\n    x = 1;\n  }\n  /* c\n   * d */\n\n  return 0;\n}\n"
	if got := string(FormatC([]byte(in))); got != want {
		t.Errorf("FormatC:\n%s\nwant:\n%s", got, want)
	}
}
