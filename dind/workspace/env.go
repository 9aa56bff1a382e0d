package workspace

import (
	"fmt"
	"sort"
	"strings"
)

// ParseEnvPatterns parses CODER_INNER_ENVS: a comma list of variable names,
// each optionally ending in "*" to match every name with that prefix.
// Blanks around names are ignored; an empty element is skipped.
func ParseEnvPatterns(s string) ([]string, error) {
	var pats []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !validName(strings.TrimSuffix(p, "*"), strings.HasSuffix(p, "*")) {
			return nil, fmt.Errorf("pattern %q: want NAME or PREFIX* (letters, digits, _)", p)
		}
		pats = append(pats, p)
	}
	return pats, nil
}

func validName(n string, prefix bool) bool {
	if n == "" {
		return prefix
	}
	for i, r := range n {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// MatchEnvs returns the "NAME=value" entries of environ whose name matches a
// pattern, sorted by name, never one named in exclude (the secrets: a
// "CODER_*" pattern must not copy the agent token into the container).
func MatchEnvs(patterns, environ, exclude []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || seen[name] || contains(exclude, name) || !matchAny(patterns, name) {
			continue
		}
		seen[name] = true
		out = append(out, kv)
	}
	sort.Strings(out)
	return out
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
