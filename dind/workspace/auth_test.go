package workspace

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

func TestEncodedAuth(t *testing.T) {
	t.Parallel()
	doc := `{"auths":{"ghcr.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("bot:pw")) + `"},` +
		`"https://index.docker.io/v1/":{"username":"hub","password":"hubpw"}}}`
	c, err := ParseDockerConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ image, want string }{
		{"ghcr.io/acme/dev:1", `{"username":"bot","password":"pw","serveraddress":"ghcr.io"}`},
		{"codercom/enterprise-base:ubuntu", `{"username":"hub","password":"hubpw","serveraddress":"docker.io"}`},
		{"ubuntu", `{"username":"hub","password":"hubpw","serveraddress":"docker.io"}`},
		{"quay.io/x/y", ``},
	}
	for _, tt := range tests {
		enc, err := c.EncodedAuth(tt.image)
		if err != nil {
			t.Fatalf("EncodedAuth(%q): %v", tt.image, err)
		}
		got := ""
		if enc != "" {
			raw, err := base64.URLEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("EncodedAuth(%q) = %q: not base64url: %v", tt.image, enc, err)
			}
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			out, _ := json.Marshal(m)
			got = string(out)
			want := map[string]any{}
			_ = json.Unmarshal([]byte(tt.want), &want)
			wantOut, _ := json.Marshal(want)
			tt.want = string(wantOut)
		}
		if got != tt.want {
			t.Errorf("EncodedAuth(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestRegistryOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ubuntu": "docker.io", "codercom/base:1": "docker.io", "ghcr.io/a/b": "ghcr.io",
		"localhost/x": "localhost", "reg:5000/x": "reg:5000",
	} {
		if got := RegistryOf(in); got != want {
			t.Errorf("RegistryOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseDockerConfig(f *testing.F) {
	for _, s := range []string{`{"auths":{}}`, `{"auths": hunter2}`, `[]`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDockerConfig([]byte(s))
	})
}
