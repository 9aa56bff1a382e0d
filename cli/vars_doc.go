package cli

import (
	"fmt"
	"strings"
)

// describe is the default and conflicts text of a row, shared by every
// rendering.
func (v envVar[C]) describe() (def, conflicts string) {
	def = v.def
	switch {
	case v.required:
		def = "required"
	case def == "" && v.defText != "":
		def = v.defText
	case def == "":
		def = "unset"
	}
	if v.empty != "" {
		def += "; set but empty: " + v.empty
	}
	conflicts = v.conflicts
	if conflicts == "" {
		conflicts = "-"
	}
	return def, conflicts
}

// help renders the table for --help under header.
func (t varTable[C]) help(header string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, v := range t {
		def, conflicts := v.describe()
		first, second := v.env, "--"+v.flag
		switch {
		case v.env == "":
			first, second = second, ""
		case v.flag == "":
			second = ""
		}
		if second != "" {
			first = fmt.Sprintf("%-30s %s", first, second)
		}
		fmt.Fprintf(&b, "  %s\n      %s\n      default: %s", first, v.meaning, def)
		if conflicts != "-" {
			fmt.Fprintf(&b, "; %s", conflicts)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// goDoc renders the table as a comment block of doc.go.
func (t varTable[C]) goDoc() string {
	var b strings.Builder
	b.WriteString("//\n") // gofmt wants a blank comment line around a code block
	for _, v := range t {
		def, conflicts := v.describe()
		fmt.Fprintf(&b, "//\t%s\n//\t\t%s\n//\t\tdefault: %s; conflicts: %s\n", v.label(), v.meaning, def, conflicts)
	}
	b.WriteString("//\n")
	return b.String()
}

// markdown renders the table for the command's Markdown page.
func (t varTable[C]) markdown() string {
	var b strings.Builder
	b.WriteString("| variable | flag | meaning | default | conflicts |\n|---|---|---|---|---|\n")
	for _, v := range t {
		def, conflicts := v.describe()
		env, flag := "-", "-"
		if v.env != "" {
			env = "`" + v.env + "`"
		}
		if v.flag != "" {
			flag = "`--" + v.flag + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", env, flag, mdEscape(v.meaning), mdEscape(def), mdEscape(conflicts))
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// docBlock is one generated block: the table of a command rendered into
// cli/doc.go and into the command's Markdown page between BEGIN/END markers.
type docBlock struct {
	command, table  string
	page            string // the Markdown page, from the repository root
	goDoc, markdown func() string
}

// docBlocks are every command's table; TestDocsMatchTables keeps the
// files current (go generate ./cli rewrites them).
var docBlocks = []docBlock{
	{"dind", "dindVars", "docs/dind.md", dindVars.goDoc, dindVars.markdown},
	{"run", "runVars", "docs/run.md", runVars.goDoc, runVars.markdown},
	{"docker", "dockerVars", "docs/docker.md", dockerVars.goDoc, dockerVars.markdown},
	{"doctor", "doctorVars", "docs/doctor.md", doctorVars.goDoc, doctorVars.markdown},
	{"adopt-proxy", "adoptVars", "docs/adopt-proxy.md", adoptVars.goDoc, adoptVars.markdown},
	{"health", "healthVars", "README.md", healthVars.goDoc, healthVars.markdown},
}

// markers are the lines around a block in a file of the given comment
// style. The ";" keeps gofmt from taking the END line for a heading.
func (d docBlock) markers(open, close string) (begin, end string) {
	what := " envbox " + d.command + " environment (generated from " + d.table + "; do not edit)" + close + "\n"
	return open + "BEGIN" + what, open + "END" + what
}
