package xunix

import (
	"errors"
	"fmt"
)

// ErrEmpty reports a kernel file that held nothing where at least one value
// or line was expected; a silent zero would read as "no limit".
var ErrEmpty = errors.New("empty")

// ParseError is the one failure shape of every parser in this package: which
// file (empty when the parser was given bytes, not a file), which line
// (1-based; 0 when the input as a whole was wrong), the offending content and
// the reason.
type ParseError struct {
	Path    string
	Line    int
	Content string
	Err     error
}

func (e *ParseError) Error() string {
	where := "parse"
	if e.Path != "" {
		where += " " + e.Path
	}
	if e.Line > 0 {
		where += fmt.Sprintf(" line %d", e.Line)
	}
	return fmt.Sprintf("%s %q: %v", where, e.Content, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// withPath sets the file name on a *ParseError coming from a parser that only
// saw a reader; other errors are returned as they are.
func withPath(err error, path string) error {
	var pe *ParseError
	if errors.As(err, &pe) && pe.Path == "" {
		pe.Path = path
	}
	return err
}
