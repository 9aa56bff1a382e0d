package workspace

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/afero"
)

// dockerHub is the registry name of references without a host.
const dockerHub = "docker.io"

// DockerConfig is a .dockerconfigjson document (a Kubernetes
// kubernetes.io/dockerconfigjson secret, or ~/.docker/config.json).
type DockerConfig struct {
	Auths map[string]registry.AuthConfig `json:"auths"`
	// CredHelpers and CredsStore name docker-credential-* programs: the
	// pod has none of them, so a registry they serve is an error.
	CredHelpers map[string]string `json:"credHelpers"`
	CredsStore  string            `json:"credsStore"`
}

// ParseDockerConfig parses a .dockerconfigjson document (a Kubernetes pull
// secret: "auths" is required). Errors never quote the document: it holds
// credentials.
func ParseDockerConfig(data []byte) (DockerConfig, error) {
	c, err := ParseDockerConfigFile(data)
	if err == nil && c.Auths == nil {
		return DockerConfig{}, errors.New(`no "auths" object`)
	}
	return c, err
}

// ParseDockerConfigFile parses a docker config.json, where "credHelpers"
// or "credsStore" may stand without "auths".
func ParseDockerConfigFile(data []byte) (DockerConfig, error) {
	var c DockerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return DockerConfig{}, fmt.Errorf("not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return DockerConfig{}, errors.New(`not a .dockerconfigjson document: want {"auths": {"REGISTRY": {...}}}`)
	}
	if c.Auths == nil && c.CredHelpers == nil && c.CredsStore == "" {
		return DockerConfig{}, errors.New(`no "auths" object`)
	}
	return c, nil
}

// maxDockerConfigBytes bounds a docker config file (a few KiB in practice).
const maxDockerConfigBytes = 1 << 20

// ReadDockerConfigFile reads and parses the docker config file at path
// (CODER_DOCKER_CONFIG), opened without blocking, at most 1 MiB. A
// missing file is an error that errors.Is fs.ErrNotExist.
func ReadDockerConfigFile(fsys afero.Fs, path string) (DockerConfig, error) {
	data, err := readRegular(fsys, path, maxDockerConfigBytes)
	if err == nil && len(data) > maxDockerConfigBytes {
		err = fmt.Errorf("larger than %d bytes", maxDockerConfigBytes)
	}
	if err != nil {
		return DockerConfig{}, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := ParseDockerConfigFile(data)
	if err != nil {
		return DockerConfig{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return c, nil
}

// RegistryOf returns the registry host[:port] of an image reference as
// docker parses it: Docker Hub ("docker.io") for references without one.
func RegistryOf(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return dockerHub // cli validated the reference: not reached
	}
	return reference.Domain(named)
}

// normalizeKey turns a key of "auths" or "credHelpers" into the registry
// it names, as the docker CLI does: no scheme, no path, lower case, and
// Docker Hub's legacy names ("https://index.docker.io/v1/") as docker.io.
func normalizeKey(key string) string {
	k := strings.ToLower(strings.TrimSpace(key))
	for _, scheme := range []string{"https://", "http://"} {
		k = strings.TrimPrefix(k, scheme)
	}
	k, _, _ = strings.Cut(k, "/")
	switch k {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHub
	}
	return k
}

// CredentialHelperError is a registry whose credentials a
// docker-credential-* program keeps: it cannot run in the pod.
type CredentialHelperError struct {
	Registry string
	Helper   string // program name, docker-credential-<name>
	Field    string // credHelpers or credsStore
}

func (e *CredentialHelperError) Error() string {
	return fmt.Sprintf("registry %s: its credentials are in the credential helper %s (%q), which cannot run in the pod: "+
		"put the registry's username and password (or \"auth\") under \"auths\", or use %s",
		e.Registry, e.Helper, e.Field, EnvImagePullSecret)
}

// Credentials are what the document holds for one registry.
type Credentials struct {
	// Encoded is the X-Registry-Auth value, "" when nothing matched.
	Encoded string
	// Key is the "auths" key that matched, as written ("" for none): a
	// registry name, never a secret.
	Key string
}

// CredentialsFor returns the credentials for image's registry. An entry
// matches when its key names the registry in any of the forms users write
// (bare host, host:port, with a scheme or a path); an exact key wins.
// Errors name the registry and the key, never a credential.
func (c DockerConfig) CredentialsFor(image string) (Credentials, error) {
	reg := RegistryOf(image)
	if h, ok := c.helperFor(reg); ok {
		return Credentials{}, &CredentialHelperError{Registry: reg, Helper: "docker-credential-" + h, Field: "credHelpers"}
	}
	key, a, ok := c.lookup(reg)
	if !ok || empty(a) {
		if c.CredsStore != "" {
			return Credentials{}, &CredentialHelperError{Registry: reg, Helper: "docker-credential-" + c.CredsStore, Field: "credsStore"}
		}
		return Credentials{}, nil
	}
	if a.Auth != "" && a.Username == "" && a.Password == "" {
		user, pass, err := decodeAuthField(a.Auth)
		if err != nil {
			return Credentials{}, fmt.Errorf("registry %s: auths[%q].auth: %w", reg, key, err)
		}
		a.Username, a.Password = user, pass
	}
	a.Auth, a.ServerAddress = "", reg
	enc, err := authconfig.Encode(a)
	if err != nil {
		return Credentials{}, fmt.Errorf("registry %s: encode the credentials of auths[%q]: %w", reg, key, err)
	}
	return Credentials{Encoded: enc, Key: key}, nil
}

// EncodedAuth returns the X-Registry-Auth value for image ("" when the
// document has nothing for its registry).
func (c DockerConfig) EncodedAuth(image string) (string, error) {
	cr, err := c.CredentialsFor(image)
	return cr.Encoded, err
}

// Keys are the "auths" keys, sorted: registry names for error messages.
func (c DockerConfig) Keys() []string {
	keys := make([]string, 0, len(c.Auths))
	for k := range c.Auths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Secrets are every credential of the document in every form it can be
// printed in (for redaction): the fields as written, the password decoded
// from "auth", and base64 of user:password (the Basic authorization).
func (c DockerConfig) Secrets() []string {
	var out []string
	for _, a := range c.Auths {
		out = append(out, a.Auth, a.Password, a.IdentityToken, a.RegistryToken)
		user, pass := a.Username, a.Password
		if a.Auth != "" {
			if u, p, err := decodeAuthField(a.Auth); err == nil {
				user, pass = u, p
				out = append(out, p)
			}
		}
		if pass != "" {
			out = append(out, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		}
	}
	return out
}

func empty(a registry.AuthConfig) bool {
	return a.Auth == "" && a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == ""
}

// decodeAuthField decodes "auth": base64 of user:password. The error
// never holds the value.
func decodeAuthField(s string) (user, pass string, err error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return "", "", errors.New("not base64")
		}
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return "", "", errors.New("not base64 of user:password")
	}
	return user, pass, nil
}

// lookup finds the "auths" entry of reg: the key equal to reg, else the
// first key (sorted) that normalises to it.
func (c DockerConfig) lookup(reg string) (string, registry.AuthConfig, bool) {
	if a, ok := c.Auths[reg]; ok {
		return reg, a, true
	}
	for _, k := range c.Keys() {
		if normalizeKey(k) == reg {
			return k, c.Auths[k], true
		}
	}
	return "", registry.AuthConfig{}, false
}

// helperFor is the credHelpers entry naming reg.
func (c DockerConfig) helperFor(reg string) (string, bool) {
	if h, ok := c.CredHelpers[reg]; ok {
		return h, true
	}
	keys := make([]string, 0, len(c.CredHelpers))
	for k := range c.CredHelpers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if normalizeKey(k) == reg {
			return c.CredHelpers[k], true
		}
	}
	return "", false
}
