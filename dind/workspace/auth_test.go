package workspace

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// b64 is how "auth" fields hold user:password.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// decodedAuth turns an X-Registry-Auth value back into sorted JSON.
func decodedAuth(t *testing.T, enc string) string {
	t.Helper()
	if enc == "" {
		return ""
	}
	raw, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("auth %q: not base64url: %v", enc, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("auth %s: %v", raw, err)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// TestCredentialsFor: every shape of pull secret users have written
// (coder/envbox #102, #137), the registry it is for, and what dockerd gets.
func TestCredentialsFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, image string
		want, wantKey    string
		wantErr          string
	}{
		{name: "username_password", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"username":"bot","password":"pw1"}}}`,
			want: `{"password":"pw1","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "reg.example.com"},
		{name: "auth_only", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"auth":"` + b64("bot:pw:with:colons") + `"}}}`,
			want: `{"password":"pw:with:colons","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "reg.example.com"},
		{name: "auth_unpadded", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"auth":"Ym90OnB3"}}}`,
			want: `{"password":"pw","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "reg.example.com"},
		{name: "scheme_and_path_key", image: "reg.example.com/team/ws:1",
			doc:  `{"auths":{"https://reg.example.com/v1/":{"auth":"` + b64("bot:pw") + `"}}}`,
			want: `{"password":"pw","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "https://reg.example.com/v1/"},
		{name: "host_port_key_with_scheme", image: "192.0.2.1:5000/ws:1",
			doc:  `{"auths":{"http://192.0.2.1:5000":{"username":"bot","password":"pw"}}}`,
			want: `{"password":"pw","serveraddress":"192.0.2.1:5000","username":"bot"}`, wantKey: "http://192.0.2.1:5000"},
		{name: "port_must_match", image: "192.0.2.1:5000/ws:1",
			doc:  `{"auths":{"192.0.2.1":{"username":"bot","password":"pw"}}}`,
			want: ``},
		{name: "upper_case_key", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"HTTPS://Reg.Example.com":{"username":"bot","password":"pw"}}}`,
			want: `{"password":"pw","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "HTTPS://Reg.Example.com"},
		{name: "exact_key_wins", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"https://reg.example.com/v1/":{"username":"old","password":"x"},"reg.example.com":{"username":"new","password":"y"}}}`,
			want: `{"password":"y","serveraddress":"reg.example.com","username":"new"}`, wantKey: "reg.example.com"},
		{name: "docker_hub_legacy_key", image: "codercom/enterprise-base:ubuntu",
			doc:  `{"auths":{"https://index.docker.io/v1/":{"username":"hub","password":"hubpw"}}}`,
			want: `{"password":"hubpw","serveraddress":"docker.io","username":"hub"}`, wantKey: "https://index.docker.io/v1/"},
		{name: "docker_hub_official_image", image: "ubuntu",
			doc:  `{"auths":{"index.docker.io":{"auth":"` + b64("hub:hubpw") + `"}}}`,
			want: `{"password":"hubpw","serveraddress":"docker.io","username":"hub"}`, wantKey: "index.docker.io"},
		{name: "docker_hub_key_not_for_others", image: "ghcr.io/acme/dev:1",
			doc:  `{"auths":{"https://index.docker.io/v1/":{"username":"hub","password":"hubpw"}}}`,
			want: ``},
		{name: "identity_token", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"identitytoken":"refresh-tok"}}}`,
			want: `{"identitytoken":"refresh-tok","serveraddress":"reg.example.com"}`, wantKey: "reg.example.com"},
		{name: "no_entry", image: "quay.io/x/y", doc: `{"auths":{"ghcr.io":{"username":"a","password":"b"}}}`, want: ``},
		{name: "cred_helper", image: "123.dkr.ecr.us-east-1.amazonaws.com/ws:1",
			doc:     `{"auths":{},"credHelpers":{"123.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"}}`,
			wantErr: `registry 123.dkr.ecr.us-east-1.amazonaws.com: its credentials are in the credential helper docker-credential-ecr-login ("credHelpers"), which cannot run in the pod: put the registry's username and password (or "auth") under "auths", or use CODER_IMAGE_PULL_SECRET`},
		{name: "cred_helper_wins_over_auths", image: "gcr.io/p/ws:1",
			doc:     `{"auths":{"gcr.io":{"username":"a","password":"b"}},"credHelpers":{"https://gcr.io":"gcloud"}}`,
			wantErr: `registry gcr.io: its credentials are in the credential helper docker-credential-gcloud ("credHelpers"), which cannot run in the pod: put the registry's username and password (or "auth") under "auths", or use CODER_IMAGE_PULL_SECRET`},
		{name: "cred_helper_for_another_registry", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"username":"bot","password":"pw"}},"credHelpers":{"gcr.io":"gcloud"}}`,
			want: `{"password":"pw","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "reg.example.com"},
		{name: "creds_store_empty_entry", image: "reg.example.com/ws:1",
			doc:     `{"auths":{"reg.example.com":{}},"credsStore":"desktop"}`,
			wantErr: `registry reg.example.com: its credentials are in the credential helper docker-credential-desktop ("credsStore"), which cannot run in the pod: put the registry's username and password (or "auth") under "auths", or use CODER_IMAGE_PULL_SECRET`},
		{name: "creds_store_but_credentials_in_auths", image: "reg.example.com/ws:1",
			doc:  `{"auths":{"reg.example.com":{"auth":"` + b64("bot:pw") + `"}},"credsStore":"desktop"}`,
			want: `{"password":"pw","serveraddress":"reg.example.com","username":"bot"}`, wantKey: "reg.example.com"},
		{name: "auth_not_base64", image: "reg.example.com/ws:1",
			doc:     `{"auths":{"reg.example.com":{"auth":"hunter2!secret"}}}`,
			wantErr: `registry reg.example.com: auths["reg.example.com"].auth: not base64`},
		{name: "auth_without_colon", image: "reg.example.com/ws:1",
			doc:     `{"auths":{"reg.example.com":{"auth":"` + b64("hunter2secret") + `"}}}`,
			wantErr: `registry reg.example.com: auths["reg.example.com"].auth: not base64 of user:password`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseDockerConfigFile([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParseDockerConfig(%s): %v", tt.doc, err)
			}
			got, err := c.CredentialsFor(tt.image)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("CredentialsFor(%q) of %s error = %v, want %q", tt.image, tt.doc, err, tt.wantErr)
				}
				for _, secret := range []string{"hunter2", "pw"} {
					if strings.Contains(err.Error(), secret) && !strings.Contains(tt.wantErr, secret) {
						t.Errorf("error %q quotes a credential", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("CredentialsFor(%q) of %s: %v", tt.image, tt.doc, err)
			}
			if d := decodedAuth(t, got.Encoded); d != tt.want || got.Key != tt.wantKey {
				t.Errorf("CredentialsFor(%q) of %s = %s key %q, want %s key %q", tt.image, tt.doc, d, got.Key, tt.want, tt.wantKey)
			}
		})
	}
}

func TestCredentialHelperErrorAs(t *testing.T) {
	t.Parallel()
	c, _ := ParseDockerConfigFile([]byte(`{"credsStore":"pass"}`))
	_, err := c.CredentialsFor("reg.example.com/ws:1")
	var he *CredentialHelperError
	if !errors.As(err, &he) || he.Helper != "docker-credential-pass" || he.Registry != "reg.example.com" {
		t.Errorf("CredentialsFor error = %#v, want a *CredentialHelperError for docker-credential-pass and reg.example.com", err)
	}
}

func TestRegistryOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ubuntu": "docker.io", "codercom/base:1": "docker.io", "docker.io/library/ubuntu": "docker.io",
		"ghcr.io/a/b": "ghcr.io", "localhost/x": "localhost", "reg:5000/x": "reg:5000",
		"192.0.2.1:5000/ws:1": "192.0.2.1:5000", "reg.example.com/ws@sha256:" + strings.Repeat("a", 64): "reg.example.com",
	} {
		if got := RegistryOf(in); got != want {
			t.Errorf("RegistryOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDockerConfig(t *testing.T) {
	t.Parallel()
	for doc, wantErr := range map[string]string{
		`{"auths":{}}`:             "",
		`{"credsStore":"desktop"}`: `no "auths" object`,
		`{"credHelpers":{}}`:       `no "auths" object`,
		`{}`:                       `no "auths" object`,
		`{"auths": hunter2}`:       "not valid JSON (syntax error at byte 11)",
		`[]`:                       `not a .dockerconfigjson document: want {"auths": {"REGISTRY": {...}}}`,
	} {
		_, err := ParseDockerConfig([]byte(doc))
		if got := errString(err); got != wantErr {
			t.Errorf("ParseDockerConfig(%s) error = %q, want %q", doc, got, wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzParseDockerConfig(f *testing.F) {
	for _, s := range []string{`{"auths":{}}`, `{"auths": hunter2}`, `[]`, `{}`, `{"credHelpers":{"a":"b"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseDockerConfig([]byte(s))
		if err != nil {
			return
		}
		_, _ = c.CredentialsFor("reg.example.com/ws:1")
	})
}

func FuzzNormalizeKey(f *testing.F) {
	for _, s := range []string{"https://reg.example.com/v1/", "reg:5000", "https://index.docker.io/v1/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k := normalizeKey(s); strings.Contains(k, "/") {
			t.Errorf("normalizeKey(%q) = %q: holds a path", s, k)
		}
	})
}

// TestCredentialsNeverCrossRegistries: a key matches only the registry
// it names (scheme, path, case and blanks aside): no prefix, suffix,
// userinfo, port or trailing-dot look-alike gets another registry's
// credentials, and Docker Hub's names match only Docker Hub.
func TestCredentialsNeverCrossRegistries(t *testing.T) {
	t.Parallel()
	for image, keys := range map[string][]string{
		"reg.example.com/ws:1": {"evil.example.com", "reg.example.com.evil.com", "evilreg.example.com", "reg.example.com.",
			"reg.example.com:443", "https://reg.example.com@evil.com/", "https://user@reg.example.com/", "evil.com/reg.example.com",
			"reg.example.co", "docker.io", "https://index.docker.io/v1/", "", "//reg.example.com"},
		"reg.example.com:5000/ws:1": {"reg.example.com", "reg.example.com:50000", "reg.example.com:500", "https://reg.example.com/"},
		"[::1]:5000/ws:1":           {"::1:5000", "[::1]", "[::2]:5000", "127.0.0.1:5000", "localhost:5000"},
		"debian:12":                 {"docker.io.evil.com", "evil.docker.io", "index.docker.io.evil.com", "https://evil.com/index.docker.io/v1/", "registry-2.docker.io"},
		"registry-1.docker.io/x:1":  {"docker.io", "https://index.docker.io/v1/"},
		"localhost:5000/ws:1":       {"127.0.0.1:5000", "localhost", "localhost:5000.evil.com"},
	} {
		for _, key := range keys {
			doc := `{"auths":{"` + key + `":{"auth":"` + b64("u:p") + `"}}}`
			c, err := ParseDockerConfig([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if cr, err := c.CredentialsFor(image); err != nil || cr.Encoded != "" {
				t.Errorf("image %s, key %q: credentials %q (key %q), %v; want none", image, key, decodedAuth(t, cr.Encoded), cr.Key, err)
			}
		}
	}
}
