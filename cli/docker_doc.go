package cli

import (
	"fmt"
	"strings"
)

// describe is the one-line description of a row used by every rendering.
func (v dockerVar) describe() (def, conflicts string) {
	def = v.def
	switch {
	case v.required:
		def = "required"
	case def == "" && v.defText != "":
		def = v.defText
	case def == "":
		def = "unset"
	}
	conflicts = v.conflicts
	if conflicts == "" {
		conflicts = "-"
	}
	return def, conflicts
}

// dockerHelp renders the table for `envbox docker --help`.
func dockerHelp() string {
	var b strings.Builder
	b.WriteString("Environment (each also a flag; a flag wins over its variable; empty = unset):\n")
	for _, v := range dockerVars {
		def, conflicts := v.describe()
		fmt.Fprintf(&b, "  %-30s --%s\n      %s\n      default: %s", v.env, v.flag, v.meaning, def)
		if conflicts != "-" {
			fmt.Fprintf(&b, "; %s", conflicts)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// dockerGoDoc renders the table as the comment block of doc.go.
func dockerGoDoc() string {
	var b strings.Builder
	b.WriteString("//\n") // gofmt wants a blank comment line around a code block
	for _, v := range dockerVars {
		def, conflicts := v.describe()
		fmt.Fprintf(&b, "//\t%s (--%s)\n//\t\t%s\n//\t\tdefault: %s; conflicts: %s\n", v.env, v.flag, v.meaning, def, conflicts)
	}
	b.WriteString("//\n")
	return b.String()
}

// dockerMarkdown renders the table for README.md.
func dockerMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | flag | meaning | default | conflicts |\n|---|---|---|---|---|\n")
	for _, v := range dockerVars {
		def, conflicts := v.describe()
		fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s | %s |\n", v.env, v.flag,
			strings.ReplaceAll(v.meaning, "|", `\|`), def, conflicts)
	}
	return b.String()
}
