package workspace

import (
	"reflect"
	"testing"
)

func TestParseMounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []Mount
		wantErr  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "two", in: "/home/coder:/home/coder,/var/lib/ro:/mnt/ro:ro",
			want: []Mount{{Source: "/home/coder", Target: "/home/coder"}, {Source: "/var/lib/ro", Target: "/mnt/ro", ReadOnly: true}}},
		{name: "one_path", in: "/a", wantErr: `mount 1 "/a": want "src:dst" or "src:dst:ro"`},
		{name: "four_parts", in: "/a:/b:ro:x", wantErr: `mount 1 "/a:/b:ro:x": want "src:dst" or "src:dst:ro"`},
		{name: "relative_target", in: "/a:b", wantErr: `mount 1 "/a:b": path "b": must be absolute`},
		{name: "rw_option", in: "/a:/b:rw", wantErr: `mount 1 "/a:/b:rw": option "rw": only "ro" is known`},
		{name: "trailing_comma", in: "/a:/b,", wantErr: `mount 2 "": want "src:dst" or "src:dst:ro"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMounts(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseMounts(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseMounts(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseMounts(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a:/b:ro,/c:/d", "a:/b", "/a:/b:rw", "/a:/b,", "", "/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMounts(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Source == "" || m.Target == "" || m.Source[0] != '/' || m.Target[0] != '/' {
				t.Errorf("ParseMounts(%q) accepted %+v", s, m)
			}
		}
	})
}
