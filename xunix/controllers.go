package xunix

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/afero"
)

// ReadWords reads a cgroup file of blank-separated words (cgroup.controllers,
// cgroup.subtree_control, cgroup.procs); empty, never nil, when the file is.
func ReadWords(fsys afero.Fs, path string) ([]string, error) {
	b, err := afero.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return append([]string{}, strings.Fields(string(b))...), nil
}

// NotEnabled lists, in offered's order, the controllers of offered
// (cgroup.controllers) missing from enabled (cgroup.subtree_control): a
// delegated root enables every one it offers. Empty, never nil.
func NotEnabled(offered, enabled []string) []string {
	missing := []string{}
	for _, c := range offered {
		if !slices.Contains(enabled, c) {
			missing = append(missing, c)
		}
	}
	return missing
}
