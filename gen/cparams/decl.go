// The C declarations of the tables, as template data for dq_types.h.

package cparams

import (
	"reflect"
	"strings"
)

// Decl is a C typedef ready for the template: its comment lines (without
// comment markers) and its body lines, field comments aligned.
type Decl struct {
	Name  string
	Doc   []string
	Lines []string
}

// Decls returns the C declarations of Structs in header order.
func Decls() ([]Decl, error) {
	var ds []Decl
	for _, s := range Structs {
		fs, err := fields(reflect.TypeOf(s.Params))
		if err != nil {
			return nil, err
		}
		// One declaration per run of joined fields; its comment is its
		// first field's.
		type line struct{ decl, doc string }
		var ls []line
		for _, f := range fs {
			if f.join {
				l := &ls[len(ls)-1]
				l.decl = strings.TrimSuffix(l.decl, ";") + ", " + f.name + ";"
				continue
			}
			ls = append(ls, line{decl: declare(f.ctype, f.name), doc: f.doc})
		}
		width := 0
		for _, l := range ls {
			if l.doc != "" {
				width = max(width, len(l.decl))
			}
		}
		d := Decl{Name: s.Params.CName(), Doc: strings.Split(s.Doc, "\n")}
		for _, l := range ls {
			if l.doc == "" {
				d.Lines = append(d.Lines, l.decl)
				continue
			}
			d.Lines = append(d.Lines, l.decl+strings.Repeat(" ", width-len(l.decl)+2)+"/**< "+l.doc+" */")
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// declare spells the declaration of one field: "int32_t in_h;",
// "const float *mul;".
func declare(ctype, name string) string {
	if strings.HasSuffix(ctype, "*") {
		return ctype + name + ";"
	}
	return ctype + " " + name + ";"
}

// EnumDecl is an Enum ready for the template.
type EnumDecl struct {
	Name  string
	Doc   string
	Lines []string // "DQ_PAD_ZERO = 0,  /**< ... */", the last without a comma
}

// EnumDecls returns the C declarations of Enums in header order.
func EnumDecls() []EnumDecl {
	var ds []EnumDecl
	for _, e := range Enums {
		d := EnumDecl{Name: e.C, Doc: e.Doc}
		var decls []string
		width := 0
		for i, v := range e.Values {
			s := v.C + " = " + Int(v.Value)
			if i < len(e.Values)-1 {
				s += ","
			}
			decls = append(decls, s)
			if v.Doc != "" {
				width = max(width, len(s))
			}
		}
		for i, v := range e.Values {
			if v.Doc == "" {
				d.Lines = append(d.Lines, decls[i])
				continue
			}
			d.Lines = append(d.Lines, decls[i]+strings.Repeat(" ", width-len(decls[i])+2)+"/**< "+v.Doc+" */")
		}
		ds = append(ds, d)
	}
	return ds
}
