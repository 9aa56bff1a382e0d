package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"cdr.dev/slog"
)

// Pull policies (ENVBOX_PULL).
const (
	// PullMissing pulls only when the data root lacks the image: a pod
	// restart on a kept data root asks the registry nothing.
	PullMissing = "missing"
	// PullAlways pulls on every start (a moving tag); layers already
	// there are not downloaded again.
	PullAlways = "always"
)

// pullAuth is the registry auth of the image and where it came from.
type pullAuth struct {
	encoded string // X-Registry-Auth, "" for an anonymous pull
	source  string // CODER_IMAGE_PULL_SECRET or the docker config's path; "" = none
	key     string // the "auths" key that matched
	keys    []string
}

// describe says, for a pull error, which credentials went to the
// registry: names and keys only, never a credential.
func (a pullAuth) describe() string {
	switch {
	case a.encoded != "":
		return fmt.Sprintf("with the credentials of %s auths[%q]", a.source, a.key)
	case a.source != "" && len(a.keys) == 0:
		return fmt.Sprintf("without credentials: %s has no auths key", a.source)
	case a.source != "":
		return fmt.Sprintf("without credentials: no key of %s names it (keys: %s)", a.source, strings.Join(a.keys, ", "))
	}
	return "without credentials"
}

// registryAuth is the pull secret's auth for the image, else the docker
// config file's when it exists.
func (s *session) registryAuth() (pullAuth, error) {
	doc, source := s.cfg.PullSecret, EnvImagePullSecret
	if doc == nil {
		dc, err := ReadDockerConfigFile(s.deps.Fs, s.cfg.DockerConfig)
		if errors.Is(err, fs.ErrNotExist) {
			return pullAuth{}, nil
		}
		if err != nil {
			return pullAuth{}, err
		}
		doc, source = &dc, s.cfg.DockerConfig
	}
	cr, err := doc.CredentialsFor(s.cfg.Image)
	if err != nil {
		return pullAuth{}, fmt.Errorf("%s: %w", source, err)
	}
	return pullAuth{encoded: cr.Encoded, source: source, key: cr.Key, keys: doc.Keys()}, nil
}

// pull makes sure dockerd has the image, under the pull policy. A failed
// pull names the image, the registry and which credentials it was given.
func (s *session) pull(ctx context.Context) error {
	reg := RegistryOf(s.cfg.Image)
	credentials := func() (string, string, error) {
		a, err := s.registryAuth()
		if err != nil {
			return "", "", err
		}
		switch {
		case a.encoded != "":
			s.log.Info(ctx, "registry credentials", slog.F("registry", reg), slog.F("from", a.source), slog.F("key", a.key))
		case a.source != "":
			s.log.Warn(ctx, "no credentials for the registry, pulling anonymously",
				slog.F("registry", reg), slog.F("from", a.source), slog.F("keys", a.keys))
		}
		return a.encoded, " from registry " + reg + " " + a.describe(), nil
	}
	progress := &Progress{Log: s.log.Named("pull"), Now: s.deps.Now, Every: pullLogEvery}
	err := EnsureImage(ctx, s.api, PullRequest{Ref: s.cfg.Image, Always: s.cfg.Pull == PullAlways, Credentials: credentials}, progress)
	if err != nil && strings.Contains(err.Error(), "x509: ") && len(s.cfg.RegistryCAs) == 0 {
		return fmt.Errorf("%w (set %s to the registry's CA certificate)", err, EnvExtraCertsPath)
	}
	return err
}

// trustRegistryCAs gives dockerd the extra CA certificates for the
// image's registry, before dockerd starts.
func (s *session) trustRegistryCAs(ctx context.Context) error {
	if len(s.cfg.RegistryCAs) == 0 {
		return nil
	}
	reg := RegistryOf(s.cfg.Image)
	path, err := WriteRegistryCA(s.deps.Fs, DockerCertsDir, reg, s.cfg.RegistryCAs)
	if err != nil {
		return err
	}
	if path == "" {
		s.log.Warn(ctx, "Docker Hub ignores "+DockerCertsDir+": the extra CA certificates are not used for the pull",
			slog.F("registry", reg))
		return nil
	}
	s.log.Info(ctx, "dockerd trusts the extra CA certificates for the registry",
		slog.F("registry", reg), slog.F("path", path), slog.F("from", s.cfg.ExtraCertsPath))
	return nil
}
