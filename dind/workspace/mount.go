package workspace

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Mount is a bind mount from the outer container into the workspace.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// Bind returns the mount in Docker's "src:dst[:ro]" HostConfig.Binds form.
func (m Mount) Bind() string {
	if m.ReadOnly {
		return m.Source + ":" + m.Target + ":ro"
	}
	return m.Source + ":" + m.Target
}

// ParseMounts parses a comma list of "src:dst[:ro]" with absolute paths. An
// empty string is no mount; an empty element is an error (a stray comma
// usually means a template dropped a value).
func ParseMounts(s string) ([]Mount, error) {
	if s == "" {
		return nil, nil
	}
	var ms []Mount
	for i, el := range strings.Split(s, ",") {
		m, err := parseMount(el)
		if err != nil {
			return nil, fmt.Errorf("mount %d %q: %w", i+1, el, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func parseMount(el string) (Mount, error) {
	parts := strings.Split(el, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Mount{}, errors.New(`want "src:dst" or "src:dst:ro"`)
	}
	m := Mount{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		if parts[2] != "ro" {
			return Mount{}, fmt.Errorf("option %q: only \"ro\" is known", parts[2])
		}
		m.ReadOnly = true
	}
	for _, p := range []string{m.Source, m.Target} {
		if !path.IsAbs(p) {
			return Mount{}, fmt.Errorf("path %q: must be absolute", p)
		}
	}
	return m, nil
}
