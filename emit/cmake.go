package emit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/internal/cstr"
	"github.com/dqnn/dqnn/templates"
)

// CMakeFile is the directory's CMake build file: the same bytes for every
// model (it includes each model's CMakeModelSuffix file and builds the dq_*
// kernels once), so models generated into one directory share it.
const CMakeFile = "CMakeLists.txt"

// CMakeModelSuffix ends the name of a model's own CMake file, NAME.dqnn.cmake.
const CMakeModelSuffix = ".dqnn.cmake"

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

// CMakeFiles renders the CMake build files of the library whose files are
// files (as Render returns them): the directory's CMakeLists.txt and
// NAME.dqnn.cmake, add_library(NAME ...) over the model's own .c files
// linking dqnn_runtime (the dq_* kernels, C99, libm). Only the C prefix and
// file names enter them, never a string from the model.
func CMakeFiles(name string, files map[string][]byte) (map[string][]byte, error) {
	if !cstr.IsIdent(name) {
		return nil, fmt.Errorf("emit: model name %q is not a C identifier; pass --name", name)
	}
	if cmakeReserved[name] || strings.HasPrefix(name, "dqnn") {
		return nil, fmt.Errorf("emit: %q is a name CMake reserves (or libm's, or dqnn's) and cannot name the library's target; pass another --name, or --no-build-files", name)
	}
	d := CMake{Name: name}
	for f := range files {
		if strings.HasSuffix(f, ".c") && !RuntimeFile(f) {
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
	t, err := render.Load(templates.ModelFS, "model/cmake*.tmpl")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for file, tmpl := range map[string]string{CMakeFile: "model/cmake_dir.tmpl", name + CMakeModelSuffix: "model/cmake.tmpl"} {
		b, err := render.Execute(t, tmpl, d)
		if err != nil {
			return nil, err
		}
		out[file] = render.Tidy(b)
	}
	return out, nil
}
