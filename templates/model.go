package templates

import "embed"

// ModelFS holds model/*.tmpl, the templates of a compiled model's C library
// (NAME.h, NAME.c, NAME_data.c); their data is emit.Model.
//
//go:embed model
var ModelFS embed.FS
