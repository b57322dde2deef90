package target

import "path"

// RuntimeFile returns one file of the embedded Cortex-M runtime by its path
// under rt/ ("startup.S", "ld/dq_sections.ld", "ld/mps2-an386.ld", ...), for
// firmware that links the same startup code and section layout outside a
// test image (package board).
func RuntimeFile(name string) ([]byte, error) { return rtFS.ReadFile(path.Join("rt", name)) }
