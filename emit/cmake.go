package emit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/internal/cstr"
	"github.com/dqnn/dqnn/templates"
)

// CMakeFile is the name of the CMake build file CMakeLists writes.
const CMakeFile = "CMakeLists.txt"

// CMake is the data of templates/model/cmake.tmpl.
type CMake struct {
	Name    string   // CMake target, the library's C prefix
	Sources []string // the library's .c files, sorted
}

// cmakeReserved are target names CMake refuses (policy CMP0037) or that
// would make the library link itself ("m", the math library it links).
var cmakeReserved = map[string]bool{
	"all": true, "ALL_BUILD": true, "clean": true, "depend": true, "edit_cache": true, "help": true, "install": true,
	"INSTALL": true, "list_install_components": true, "package": true, "PACKAGE": true, "package_source": true,
	"preinstall": true, "rebuild_cache": true, "RUN_TESTS": true, "test": true, "ZERO_CHECK": true, "m": true,
}

// CMakeLists renders CMakeLists.txt for the library whose files are files
// (as Render returns them): add_library(NAME ...) over its .c files with
// its include directory, C99 and libm. Only the C prefix and file names
// enter the file, never a string from the model.
func CMakeLists(name string, files map[string][]byte) ([]byte, error) {
	if !cstr.IsIdent(name) {
		return nil, fmt.Errorf("emit: model name %q is not a C identifier; pass --name", name)
	}
	if cmakeReserved[name] {
		return nil, fmt.Errorf("emit: %q is a name CMake reserves (or libm's) and cannot name the library's target; pass another --name, or --no-build-files", name)
	}
	d := CMake{Name: name}
	for f := range files {
		if strings.HasSuffix(f, ".c") {
			if !cstr.IsIdent(strings.TrimSuffix(f, ".c")) {
				return nil, fmt.Errorf("emit: library file %q has no plain C name", f)
			}
			d.Sources = append(d.Sources, f)
		}
	}
	if len(d.Sources) == 0 {
		return nil, fmt.Errorf("emit: library %s has no .c files", name)
	}
	sort.Strings(d.Sources)
	t, err := render.Load(templates.ModelFS, "model/cmake.tmpl")
	if err != nil {
		return nil, err
	}
	b, err := render.Execute(t, "model/cmake.tmpl", d)
	if err != nil {
		return nil, err
	}
	return render.Tidy(b), nil
}
