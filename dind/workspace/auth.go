package workspace

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// DockerConfig is a .dockerconfigjson document (a Kubernetes
// kubernetes.io/dockerconfigjson secret, or ~/.docker/config.json).
type DockerConfig struct {
	Auths map[string]registry.AuthConfig `json:"auths"`
}

// ParseDockerConfig parses a .dockerconfigjson document. Errors never quote
// the document: it holds credentials.
func ParseDockerConfig(data []byte) (DockerConfig, error) {
	var c DockerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return DockerConfig{}, fmt.Errorf("not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return DockerConfig{}, errors.New(`not a .dockerconfigjson document: want {"auths": {"REGISTRY": {...}}}`)
	}
	if c.Auths == nil {
		return DockerConfig{}, errors.New(`no "auths" object`)
	}
	return c, nil
}

// RegistryOf returns the registry host of an image reference, with Docker
// Hub's canonical names for references without one.
func RegistryOf(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io"
	}
	return first
}

// EncodedAuth returns the X-Registry-Auth value for image ("" when the
// document has nothing for its registry).
func (c DockerConfig) EncodedAuth(image string) (string, error) {
	reg := RegistryOf(image)
	a, ok := c.lookup(reg)
	if !ok {
		return "", nil
	}
	if a.Auth != "" && a.Username == "" {
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return "", fmt.Errorf("auth for registry %s: not base64", reg)
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		a.Username, a.Password = user, pass
	}
	a.Auth, a.ServerAddress = "", reg
	return authconfig.Encode(a)
}

func (c DockerConfig) lookup(reg string) (registry.AuthConfig, bool) {
	keys := []string{reg, "https://" + reg, "http://" + reg}
	if reg == "docker.io" {
		keys = append(keys, "https://index.docker.io/v1/", "index.docker.io")
	}
	for _, k := range keys {
		if a, ok := c.Auths[k]; ok {
			return a, true
		}
	}
	return registry.AuthConfig{}, false
}
