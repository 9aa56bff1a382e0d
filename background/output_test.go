package background

import (
	"slices"
	"strings"
	"testing"
)

func TestScanLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     []string
	}{
		{name: "empty", in: "", max: 8, want: nil},
		{name: "lines", in: "a\nb\n", max: 8, want: []string{"a", "b"}},
		{name: "no_final_newline", in: "a\nb", max: 8, want: []string{"a", "b"}},
		{name: "crlf", in: "a\r\nb\r\n", max: 8, want: []string{"a", "b"}},
		{name: "empty_lines", in: "\n\na\n", max: 8, want: []string{"", "", "a"}},
		// A line longer than max is cut, and the lines after it still arrive.
		{name: "long_line_cut", in: "0123456789abc\nafter\n", max: 5, want: []string{"01234", "56789", "abc", "after"}},
		{name: "exactly_max", in: "01234\n", max: 5, want: []string{"01234"}},
		{name: "max_plus_one", in: "012345\n", max: 5, want: []string{"01234", "5"}},
		{name: "one_under_max", in: "0123\nx", max: 5, want: []string{"0123", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			scanLines(strings.NewReader(tt.in), tt.max, func(l string) { got = append(got, l) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("scanLines(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func FuzzScanLines(f *testing.F) {
	for _, s := range []string{"", "a\nb\n", "a\r\nb", "0123456789abc\nafter\n", "\n\n\r\n", strings.Repeat("x", 100)} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 1 || max > 1<<16 {
			t.Skipf("max %d outside 1..65536: not a bound scanLines is given", max)
		}
		var total int
		scanLines(strings.NewReader(in), max, func(l string) {
			if len(l) > max {
				t.Errorf("scanLines(%q, %d): line of %d bytes", in, max, len(l))
			}
			total += len(l)
		})
		// Only newlines and the \r before them are dropped.
		if total > len(in) || total < len(strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", ""), "\n", ""))-strings.Count(in, "\r") {
			t.Errorf("scanLines(%q, %d) returned %d bytes of text", in, max, total)
		}
	})
}

func TestRing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		max   int
		lines []string
		want  string
	}{
		{name: "empty", max: 10, want: ""},
		{name: "fits", max: 10, lines: []string{"ab", "cd"}, want: "ab\ncd"},
		// Each line costs its length plus one newline: "cd\nef\n" is 6 bytes.
		{name: "drops_oldest", max: 6, lines: []string{"ab", "cd", "ef"}, want: "cd\nef"},
		{name: "exact_fit", max: 9, lines: []string{"ab", "cd", "ef"}, want: "ab\ncd\nef"},
		// A line longer than the ring keeps its end.
		{name: "long_line_keeps_end", max: 4, lines: []string{"ab", "0123456789"}, want: "789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRing(tt.max)
			for _, l := range tt.lines {
				r.WriteLine(l)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("ring(%d) after %q = %q, want %q", tt.max, tt.lines, got, tt.want)
			}
			if len(r.String()) >= tt.max {
				t.Errorf("ring(%d) holds %d bytes", tt.max, len(r.String()))
			}
		})
	}
}

func TestLoggedArgv(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 257)
	got := LoggedArgv([]string{"unshare", "--cgroup", "--", "/bin/sh", "-c", long, "dockerd", strings.Repeat("y", 256)})
	want := []string{"unshare", "--cgroup", "--", "/bin/sh", "-c", "<257 bytes>", "dockerd", strings.Repeat("y", 256)}
	if !slices.Equal(got, want) {
		t.Errorf("LoggedArgv = %q, want %q", got, want)
	}
}

// TestLoggedArgvHidesSecrets: envbox run's CMD is any runtime, and some
// take secrets as flags (k3s --token, --agent-token, --datastore-endpoint
// with a password in its URL). The start line keeps their names and hides
// their values.
func TestLoggedArgvHidesSecrets(t *testing.T) {
	t.Parallel()
	in := []string{"k3s", "server", "--token=K10abc::server:s3cret", "--agent-token", "agent-s3cret",
		"--datastore-endpoint=postgres://k3s:db-s3cret@db:5432/k3s", "-p", "pw-s3cret", "--password=pw2",
		"--secrets-encryption", "--tls-san=example.org", "--client-secret", "--node-name=n1", "--api-key=k1",
		"https://user@example.org/x"}
	want := []string{"k3s", "server", "--token=[REDACTED]", "--agent-token", "[REDACTED]",
		"--datastore-endpoint=postgres://k3s:[REDACTED]@db:5432/k3s", "-p", "pw-s3cret", "--password=[REDACTED]",
		"--secrets-encryption", "--tls-san=example.org", "--client-secret", "--node-name=n1", "--api-key=[REDACTED]",
		"https://user@example.org/x"}
	if got := LoggedArgv(in); !slices.Equal(got, want) {
		t.Errorf("LoggedArgv =\n%q\nwant\n%q", got, want)
	}
}
