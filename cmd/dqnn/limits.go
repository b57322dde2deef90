package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/internal/safeio"
)

// limitFlags registers the input limit flags (docs/security.md) on fs and
// returns the limits they set, the defaults unless given.
func limitFlags(fs *flag.FlagSet) *safeio.Limits {
	l := safeio.Default()
	for _, f := range []struct {
		name string
		v    *int64
		what string
	}{
		{safeio.FlagFile, &l.File, "largest model, weights or .npy file read"},
		{safeio.FlagUnpacked, &l.Unpacked, "most data unpacked from one file (.keras entries, compressed or filled HDF5 datasets)"},
		{safeio.FlagConfig, &l.Config, "largest JSON model configuration"},
	} {
		fs.Var(sizeValue{f.v}, strings.TrimPrefix(f.name, "--"), f.what+": a byte `SIZE` such as 512M or 2G")
	}
	return &l
}

// sizeValue is a flag.Value holding a byte count.
type sizeValue struct{ v *int64 }

// String writes the size as the flag takes it ("16M").
func (s sizeValue) String() string {
	if s.v == nil {
		return ""
	}
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"G", 30}, {"M", 20}, {"K", 10}} {
		if n := *s.v; n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprint(*s.v)
}

func (s sizeValue) Set(text string) error {
	n, err := safeio.ParseSize(text)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}
