package adopt

import (
	"net/url"
	"testing"
)

func TestRewriteBuildQuery(t *testing.T) {
	t.Parallel()
	const buildKitRefused = "version=2 selects BuildKit, which ignores cgroupparent and runs RUN steps in dockerd's own cgroup; " +
		"use the classic builder (omit version, or version=1)"
	tests := []struct {
		name, in      string
		allowOverride bool
		want, wantErr string
	}{
		{name: "none", in: "", want: "cgroupparent=%2Fdocker%2F3f1c9a"},
		{name: "others_kept_verbatim", in: "t=web%3Alatest&buildargs=%7B%7D&q=1",
			want: "t=web%3Alatest&buildargs=%7B%7D&q=1&cgroupparent=%2Fdocker%2F3f1c9a"},
		{name: "empty_replaced", in: "cgroupparent=&t=x", want: "t=x&cgroupparent=%2Fdocker%2F3f1c9a"},
		{name: "same_kept", in: "t=x&cgroupparent=/docker/3f1c9a", want: "t=x&cgroupparent=/docker/3f1c9a"},
		{name: "other_strict", in: "cgroupparent=%2Felsewhere",
			wantErr: `cgroupparent "/elsewhere" conflicts with the cgroup of the calling process "/docker/3f1c9a": envbox adopt-proxy places containers in their creator's cgroup; omit cgroupparent or set it to "/docker/3f1c9a"`},
		{name: "escaped_key_strict", in: "cgroup%70arent=/elsewhere",
			wantErr: `cgroupparent "/elsewhere" conflicts with the cgroup of the calling process "/docker/3f1c9a": envbox adopt-proxy places containers in their creator's cgroup; omit cgroupparent or set it to "/docker/3f1c9a"`},
		{name: "first_value_is_dockerds", in: "cgroupparent=&cgroupparent=/elsewhere",
			want: "cgroupparent=%2Fdocker%2F3f1c9a"},
		{name: "other_permissive", in: "cgroupparent=/elsewhere", allowOverride: true, want: "cgroupparent=/elsewhere"},
		// dockerd's BuildKit backend (builder-next) takes no cgroup parent
		// from the build options; the first version value is dockerd's.
		{name: "buildkit", in: "remote=https://x/y.git&version=2", wantErr: buildKitRefused},
		{name: "buildkit_permissive", in: "version=2&cgroupparent=/elsewhere", allowOverride: true, wantErr: buildKitRefused},
		{name: "classic_first", in: "version=1&version=2", want: "version=1&version=2&cgroupparent=%2Fdocker%2F3f1c9a"},
		{name: "semicolon", in: "t=x;cgroupparent=/elsewhere",
			wantErr: `parse build query "t=x;cgroupparent=/elsewhere": invalid semicolon separator in query`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rewriteBuildQuery(tt.in, want, sameCgroupfs, tt.allowOverride)
			if got != tt.want || errString(err) != tt.wantErr {
				t.Errorf("rewriteBuildQuery(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWithQuery(t *testing.T) {
	t.Parallel()
	in := "POST /v1.47/build?t=x HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\n\r\n"
	want := "POST /v1.47/build?t=x&cgroupparent=%2Fa HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\n\r\n"
	if got := string(withQuery([]byte(in), "t=x&cgroupparent=%2Fa")); got != want {
		t.Errorf("withQuery(%q) = %q, want %q", in, got, want)
	}
}

// FuzzRewriteBuildQuery: whatever query a build sends, the cgroupparent
// dockerd reads from the forwarded one is the creator's cgroup.
func FuzzRewriteBuildQuery(f *testing.F) {
	for _, s := range []string{"", "t=x", "cgroupparent=%2Fe", "cgroup%70arent=/e&cgroupparent=", "a=%zz", "cgroupparent=/docker/3f1c9a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := rewriteBuildQuery(in, want, sameCgroupfs, false)
		if err != nil {
			return
		}
		vals, err := url.ParseQuery(out)
		if err != nil {
			t.Fatalf("rewriteBuildQuery(%q) = %q: dockerd cannot parse it: %v", in, out, err)
		}
		if got := vals.Get("cgroupparent"); !sameCgroupfs(got) {
			t.Fatalf("rewriteBuildQuery(%q) = %q: dockerd reads cgroupparent %q, want %q", in, out, got, want)
		}
	})
}
