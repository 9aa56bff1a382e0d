package vm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseConsole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     Console
		wantErr  string
	}{
		{
			// The start of a real run: SeaBIOS escape codes, no newline
			// before the guest's first line, "\r\n" line ends.
			name: "real_console",
			in: "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n" +
				"Booting from ROM..BOOTED 3.30 0.00\r\n" +
				`RESULT s1_no_delegation {"procs_count":"1","write_with_procs":"EBUSY"}` + "\r\n" +
				"DONE\r\n" +
				"[   17.451884] reboot: Power down\r\n",
			want: Console{
				Results: map[string]map[string]string{
					"s1_no_delegation": {"procs_count": "1", "write_with_procs": "EBUSY"},
				},
				Done: true,
			},
		},
		{
			name: "multiline_value_and_no_done",
			in:   `RESULT s3 {"events":"oom 1\noom_kill 1","rc":"0"}` + "\n",
			want: Console{Results: map[string]map[string]string{"s3": {"events": "oom 1\noom_kill 1", "rc": "0"}}},
		},
		{
			name: "empty",
			in:   "",
			want: Console{Results: map[string]map[string]string{}},
		},
		{
			name:    "torn_line",
			in:      "RESULT s2 {\"rc\":\"0\r\n",
			wantErr: `parse console line 1 "RESULT s2 {\"rc\":\"0": unexpected end of JSON input`,
		},
		{
			name:    "no_json",
			in:      "x\nRESULT s2\n",
			wantErr: `parse console line 2 "RESULT s2": want "RESULT <scenario> <json>"`,
		},
		{
			name:    "duplicate",
			in:      "RESULT a {}\nRESULT a {}\n",
			wantErr: `parse console line 2 "RESULT a {}": second result for scenario "a"`,
		},
		// encoding/json's wording as of Go 1.27 (the toolchain go.mod names).
		{
			name:    "non_string_value",
			in:      `RESULT a {"rc":0}`,
			wantErr: `parse console line 1 "RESULT a {\"rc\":0}": json: cannot unmarshal number into Go struct field .rc of type string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConsole([]byte(tt.in))
			if tt.wantErr != "" {
				var ce *ConsoleError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &ce) {
					t.Fatalf("ParseConsole(%q) error = %v, want ConsoleError %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConsole(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseConsole(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseConsole(f *testing.F) {
	f.Add("Booting from ROM..BOOTED 3.30 0.00\r\nRESULT s1 {\"rc\":\"0\"}\r\nDONE\r\n")
	f.Add("RESULT s2 {\"rc\":\"0\r\n")
	f.Add("RESULT s2\n")
	f.Add("RESULT a {}\nRESULT a {}\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, err := ParseConsole([]byte(in))
		var ce *ConsoleError
		if errors.As(err, &ce) && !strings.Contains(in, strings.TrimRight(ce.Content, "\r")) {
			t.Errorf("ParseConsole(%q): error %v does not name its line", in, err)
		}
	})
}
