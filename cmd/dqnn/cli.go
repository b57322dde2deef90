package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// parseInterleaved parses flags that may come before or after positional
// arguments ("dqnn generate model.h5 -o out"). The error is flag.ErrHelp
// for -h/--help, which callers turn into exit status 0 (exitFor).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
}

// exitFor is the exit status for a flag parsing error: 0 when help was
// asked for (the usage went to stderr), 2 for a usage error.
func exitFor(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// printFlags lists fs's flags the way the usage lines spell them (--name),
// one per line with its argument, help text and default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name // single letters are spelled -o, -q in the usage lines
		}
		if arg != "" {
			line += " " + arg
		}
		usage = strings.ReplaceAll(usage, "\n", "\n        ")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !strings.Contains(usage, "(default") {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, usage)
	})
}

// missing reports a missing required argument on stderr, then the usage;
// it returns exit status 2.
func missing(fs *flag.FlagSet, stderr io.Writer, what string) int {
	fmt.Fprintf(stderr, "dqnn %s: missing %s\n\n", fs.Name(), what)
	fs.Usage()
	return 2
}

// version is dqnn's module version and VCS revision, from the build info
// the Go toolchain embeds.
func version() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev
		if dirty {
			v += "+dirty"
		}
	}
	return "dqnn " + v
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// jsonSchema is the version of every command's --json output (docs/json.md);
// it changes when a field is renamed or removed, not when one is added.
const jsonSchema = 1

// writeJSON prints a command's report as indented JSON whose first field,
// "schema", names the command and the schema version: {"schema":
// "dqnn.analyze/1", ...}.
func writeJSON(w io.Writer, command string, report any) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	if len(b) < 2 || b[0] != '{' {
		return fmt.Errorf("%s report is not a JSON object", command)
	}
	head := fmt.Sprintf(`{"schema":"dqnn.%s/%d"`, command, jsonSchema)
	if b[1] != '}' {
		head += ","
	}
	var out bytes.Buffer
	if err := json.Indent(&out, append([]byte(head), b[1:]...), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
