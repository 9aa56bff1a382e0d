package xunix

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/spf13/afero"
)

// maxLine bounds one line of a kernel file. mountinfo lines with long overlay
// options reach a few KiB; anything near this is garbage, not a mount.
const maxLine = 1 << 20

// scanLines calls fn for every line of r with its 1-based number. An error
// from fn becomes a *ParseError naming the line and its content.
func scanLines(r io.Reader, fn func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(sc.Text()); err != nil {
			return &ParseError{Line: n, Content: sc.Text(), Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{Line: n + 1, Err: err}
	}
	if n == 0 {
		return &ParseError{Err: ErrEmpty}
	}
	return nil
}

// parseLines parses every line of r with parse. A failing line stops it
// with a *ParseError naming the line; the result is then nil.
func parseLines[T any](r io.Reader, parse func(line string) (T, error)) ([]T, error) {
	var out []T
	err := scanLines(r, func(line string) error {
		v, err := parse(line)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseFile opens path in fsys and parses it; a parse error names path.
func parseFile[T any](fsys afero.Fs, path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := fsys.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	return v, withPath(err, path)
}

// oneLine returns the single line of a one-value kernel file such as cpu.max
// (the trailing newline removed), or a *ParseError when there is not exactly
// one.
func oneLine(s string) (string, error) {
	line := strings.TrimSuffix(s, "\n")
	if line == "" {
		return "", &ParseError{Line: 1, Content: s, Err: ErrEmpty}
	}
	if strings.Contains(line, "\n") {
		return "", &ParseError{Content: s, Err: errors.New("want one line")}
	}
	return line, nil
}

// readString reads a whole (small) file. The error names the path: afero and
// os return *fs.PathError for open and read; anything else is wrapped.
func readString(fsys afero.Fs, path string) (string, error) {
	b, err := afero.ReadFile(fsys, path)
	if err == nil {
		return string(b), nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "", err
	}
	return "", fmt.Errorf("read %s: %w", path, err)
}
