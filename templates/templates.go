// Package templates embeds the text/template sources dqnn renders C and
// Markdown from. kernels/ holds the kernel generator's templates (one per
// kernel family, plus partials.tmpl with the type-specialised snippets every
// family shares).
package templates

import "embed"

// FS holds kernels/*.tmpl.
//
//go:embed kernels
var FS embed.FS
