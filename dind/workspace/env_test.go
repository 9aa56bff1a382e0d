package workspace

import (
	"reflect"
	"testing"
)

func TestMatchEnvs(t *testing.T) {
	t.Parallel()
	environ := []string{
		"PATH=/usr/bin", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute",
		"FOO=1", "FOO=2", "FOOBAR=x", "CODER_AGENT_TOKEN=secret", "CODER_AGENT_URL=https://c", "BROKEN",
	}
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{name: "exact_first_wins", patterns: []string{"FOO"}, want: []string{"FOO=1"}},
		{name: "prefix", patterns: []string{"NVIDIA_*"}, want: []string{"NVIDIA_DRIVER_CAPABILITIES=compute", "NVIDIA_VISIBLE_DEVICES=all"}},
		{name: "secret_excluded", patterns: []string{"CODER_*"}, want: []string{"CODER_AGENT_URL=https://c"}},
		{name: "star_all", patterns: []string{"*"}, want: []string{"CODER_AGENT_URL=https://c", "FOO=1", "FOOBAR=x", "NVIDIA_DRIVER_CAPABILITIES=compute", "NVIDIA_VISIBLE_DEVICES=all", "PATH=/usr/bin"}},
		{name: "none", patterns: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MatchEnvs(tt.patterns, environ, []string{"CODER_AGENT_TOKEN"})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MatchEnvs(%q) = %q, want %q", tt.patterns, got, tt.want)
			}
		})
	}
}

func FuzzParseEnvPatterns(f *testing.F) {
	for _, s := range []string{"FOO, NVIDIA_*,BAR", "A*B", "BAD-NAME", "*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pats, err := ParseEnvPatterns(s)
		if err != nil {
			return
		}
		for _, p := range pats {
			if p == "" {
				t.Errorf("ParseEnvPatterns(%q) returned an empty pattern", s)
			}
		}
	})
}
