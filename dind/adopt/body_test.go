package adopt

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path"
	"testing"
)

const want = "/docker/3f1c9a"

func sameCgroupfs(asked string) bool {
	return sameParent(asked, want, Driver{Name: "cgroupfs", Version: "2"})
}

func TestRewriteCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in      string
		allowOverride bool
		want, wantErr string
	}{
		{name: "no_host_config", in: `{"Image":"debian"}`,
			want: `{"Image":"debian","HostConfig":{"CgroupParent":"/docker/3f1c9a"}}`},
		{name: "host_config_null", in: `{"Image":"debian","HostConfig":null,"Tty":true}`,
			want: `{"Image":"debian","HostConfig":{"CgroupParent":"/docker/3f1c9a"},"Tty":true}`},
		{name: "no_cgroup_parent", in: `{"HostConfig":{"Memory":1048576,"Binds":["/a:/b"]}}`,
			want: `{"HostConfig":{"Memory":1048576,"Binds":["/a:/b"],"CgroupParent":"/docker/3f1c9a"}}`},
		{name: "empty_cgroup_parent_in_place", in: `{"HostConfig":{"CgroupParent":"","Memory":0}}`,
			want: `{"HostConfig":{"CgroupParent":"/docker/3f1c9a","Memory":0}}`},
		{name: "null_cgroup_parent", in: `{"HostConfig":{"CgroupParent":null}}`,
			want: `{"HostConfig":{"CgroupParent":"/docker/3f1c9a"}}`},
		{name: "lower_case_keys_canonicalised", in: `{"hostconfig":{"cgroupparent":""}}`,
			want: `{"HostConfig":{"CgroupParent":"/docker/3f1c9a"}}`},
		{name: "same_cgroup_kept_verbatim", in: `{ "HostConfig" : { "CgroupParent" : "/docker/3f1c9a" } }`,
			want: `{ "HostConfig" : { "CgroupParent" : "/docker/3f1c9a" } }`},
		{name: "same_cgroup_trailing_slash", in: `{"HostConfig":{"CgroupParent":"/docker/3f1c9a/"}}`,
			want: `{"HostConfig":{"CgroupParent":"/docker/3f1c9a/"}}`},
		{name: "relative_is_another_cgroup", in: `{"HostConfig":{"CgroupParent":"docker/3f1c9a"}}`,
			wantErr: `HostConfig.CgroupParent "docker/3f1c9a" conflicts with the cgroup of the calling process "/docker/3f1c9a": envbox adopt-proxy places containers in their creator's cgroup; omit CgroupParent or set it to "/docker/3f1c9a"`},
		{name: "other_cgroup_strict", in: `{"HostConfig":{"CgroupParent":"/"}}`,
			wantErr: `HostConfig.CgroupParent "/" conflicts with the cgroup of the calling process "/docker/3f1c9a": envbox adopt-proxy places containers in their creator's cgroup; omit CgroupParent or set it to "/docker/3f1c9a"`},
		{name: "other_cgroup_permissive", in: `{"HostConfig":{"CgroupParent":"/"}}`, allowOverride: true,
			want: `{"HostConfig":{"CgroupParent":"/"}}`},
		{name: "duplicate_cgroup_parent", in: `{"HostConfig":{"CgroupParent":"","CgroupParent":"/evil"}}`,
			wantErr: `parse container create body: HostConfig: member "CgroupParent" appears twice (as "CgroupParent" and "CgroupParent")`},
		{name: "case_variant_cgroup_parent", in: `{"HostConfig":{"CgroupParent":"","cgroupParent":"/evil"}}`,
			wantErr: `parse container create body: HostConfig: member "CgroupParent" appears twice (as "CgroupParent" and "cgroupParent")`},
		{name: "cgroup_parent_number", in: `{"HostConfig":{"CgroupParent":7}}`,
			wantErr: `parse container create body: HostConfig.CgroupParent 7: json: cannot unmarshal number into Go value of type string`},
		{name: "host_config_array", in: `{"HostConfig":[]}`,
			wantErr: `parse container create body: HostConfig: want a JSON object, got [`},
		{name: "not_an_object", in: `["Image"]`,
			wantErr: `parse container create body: want a JSON object, got [`},
		{name: "empty_body", in: ``,
			wantErr: `parse container create body: EOF`},
		{name: "second_object_after", in: `{"Image":"a"} {"HostConfig":{"CgroupParent":"/evil"}}`,
			wantErr: `parse container create body: data after the object: { <nil>`},
		{name: "truncated", in: `{"Image":"a","HostConfig":{`,
			wantErr: `parse container create body: member "HostConfig": unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rewriteCreate([]byte(tt.in), want, sameCgroupfs, tt.allowOverride)
			if string(got) != tt.want || errString(err) != tt.wantErr {
				t.Errorf("rewriteCreate(%s) =\n%s, %v\nwant\n%s, %s", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRewriteCreateErrorTypes(t *testing.T) {
	t.Parallel()
	_, err := rewriteCreate([]byte(`{"HostConfig":{"CgroupParent":"/x"}}`), want, sameCgroupfs, false)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Asked != "/x" || ce.Want != want {
		t.Errorf("conflict error = %#v, want *ConflictError{Asked: /x, Want: %s}", err, want)
	}
	_, err = rewriteCreate([]byte(`nope`), want, sameCgroupfs, false)
	var be *BodyError
	if !errors.As(err, &be) {
		t.Errorf("bad body error = %#v, want *BodyError", err)
	}
}

// TestRewriteCreateFixtures: real request bodies keep every member and its
// bytes; only CgroupParent changes. create_docker_cli_28.2.2.json was
// captured from `docker create --name web -e A=1 -v /srv:/srv:ro --memory
// 64m debian:bookworm sleep infinity` (CLI 28.2.2, API 1.43) against a
// recording socket; create_api_docs.json follows the Engine API reference
// example with future members and odd number/escape spellings added.
func TestRewriteCreateFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"create_docker_cli_28.2.2", "create_api_docs"} {
		in := readFixture(t, name+".json")
		wantOut := readFixture(t, name+".adopted.json")
		got, err := rewriteCreate(in, want, sameCgroupfs, false)
		if err != nil || !bytes.Equal(got, wantOut) {
			t.Errorf("%s: rewriteCreate =\n%s, %v\nwant\n%s", name, got, err, wantOut)
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%s: output is not JSON: %v", name, err)
		}
		a.(map[string]any)["HostConfig"].(map[string]any)["CgroupParent"] = want
		if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
			t.Errorf("%s: members changed besides CgroupParent:\n%s\n%s", name, ja, jb)
		}
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(path.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerdView decodes a create body the way dockerd does (moby
// api/server/router/container: json.NewDecoder into a struct; keys match
// without case, a repeated object member merges into the same struct).
type dockerdView struct {
	Image      string
	HostConfig *struct{ CgroupParent string }
}

// FuzzRewriteCreate: whatever the client sends, what dockerd would decode
// from a forwarded body carries the creator's cgroup.
func FuzzRewriteCreate(f *testing.F) {
	for _, s := range []string{
		`{"Image":"debian"}`, `{"HostConfig":null}`, `{"HostConfig":{"CgroupParent":""}}`,
		`{"hostconfig":{"cgroupparent":"/evil"}}`, `{"HostConfig":{},"HostConfig":{"CgroupParent":"/evil"}}`,
		`{"HostConfig":{"CgroupParent":"/docker/3f1c9a/"}}`, `{"Hoſtconfig":{"CgroupParent":"/evil"}}`,
		`{"HostConfig":{"CgroupParent":"/evil","CgroupParent":""}}`, `{"HostConfig":{"\u0043groupParent":"/evil"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := rewriteCreate(in, want, sameCgroupfs, false)
		if err != nil {
			var be *BodyError
			var ce *ConflictError
			if !errors.As(err, &be) && !errors.As(err, &ce) {
				t.Fatalf("rewriteCreate(%q): error %v is neither BodyError nor ConflictError", in, err)
			}
			return
		}
		var v dockerdView
		if err := json.NewDecoder(bytes.NewReader(out)).Decode(&v); err != nil {
			t.Fatalf("rewriteCreate(%q) = %q: dockerd cannot decode it: %v", in, out, err)
		}
		if v.HostConfig == nil || !sameCgroupfs(v.HostConfig.CgroupParent) {
			t.Fatalf("rewriteCreate(%q) = %q: dockerd reads CgroupParent %+v, want %q", in, out, v.HostConfig, want)
		}
	})
}
