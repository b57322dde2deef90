// Package deps pins the project's chosen dependencies until the packages that
// use them land; it is removed once every dependency has a real importer.
package deps

import (
	_ "codeberg.org/sbinet/npyio"
	_ "github.com/Masterminds/sprig/v3"
	_ "github.com/dave/jennifer/jen"
	_ "github.com/google/go-cmp/cmp"
	_ "golang.org/x/tools/go/packages"
)
