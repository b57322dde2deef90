// Command dqnn compiles QKeras/Larq models into standalone C libraries for
// Arm Cortex-M microcontrollers.
//
// Usage:
//
//	dqnn <command> [flags] [MODEL]
//
// Commands: analyze, generate, validate, bench, inspect, firmware. Run
// `dqnn <command> -h` for a command's flags. Example:
//
//	dqnn analyze examples/mnist_bnn/mnist_bnn.h5
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand; each lives in its own file and registers itself.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(stdout, version())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "dqnn: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dqnn <command> [flags] [MODEL]\n       dqnn --version\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `dqnn <command> --help` for a command's flags.")
}
