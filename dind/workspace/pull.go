package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"cdr.dev/slog"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// pullEvent is one line of dockerd's pull progress stream.
type pullEvent struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Error          string `json:"error"`
	ProgressDetail struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
}

// Progress logs pull events per layer: every status change, and progress
// of the same status at most once per Every.
type Progress struct {
	Log   slog.Logger
	Now   func() time.Time
	Every time.Duration

	last   map[string]time.Time
	status map[string]string
}

func (p *Progress) event(ctx context.Context, e pullEvent) {
	if p.last == nil {
		p.last, p.status = map[string]time.Time{}, map[string]string{}
	}
	now := p.Now()
	if p.status[e.ID] == e.Status && now.Sub(p.last[e.ID]) < p.Every {
		return
	}
	p.last[e.ID], p.status[e.ID] = now, e.Status
	fields := []any{slog.F("layer", e.ID), slog.F("status", e.Status)}
	if e.ProgressDetail.Total > 0 {
		fields = append(fields, slog.F("current", e.ProgressDetail.Current), slog.F("total", e.ProgressDetail.Total))
	}
	p.Log.Info(ctx, "pull progress", fields...)
}

// PullRequest is what EnsureImage fetches and how.
type PullRequest struct {
	Ref string
	// Always pulls even when dockerd has the image (ENVBOX_PULL=always).
	Always bool
	// Credentials is asked only when a pull is needed (an image in the
	// data root needs no credentials, nor a working docker config): the
	// X-Registry-Auth value ("" for none) and the words that complete
	// "pull REF" in errors (the registry and which credentials went to
	// it, never a credential). Nil: an anonymous pull.
	Credentials func() (auth, via string, err error)
}

// EnsureImage uses the image when dockerd already has it (unless Always),
// else pulls it, logging progress.
func EnsureImage(ctx context.Context, api API, r PullRequest, p *Progress) error {
	_, err := api.ImageInspect(ctx, r.Ref)
	switch {
	case err == nil && !r.Always:
		p.Log.Info(ctx, "image present, not pulling", slog.F("image", r.Ref), slog.F("policy", PullMissing))
		return nil
	case err != nil && !errdefs.IsNotFound(err):
		return fmt.Errorf("inspect image %s: %w", r.Ref, err)
	}
	present := err == nil
	var auth, via string
	if r.Credentials != nil {
		if auth, via, err = r.Credentials(); err != nil {
			return err
		}
	}
	p.Log.Info(ctx, "pulling image", slog.F("image", r.Ref), slog.F("with_auth", auth != ""), slog.F("present", present))
	rc, err := api.ImagePull(ctx, r.Ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pull %s%s: %w", r.Ref, via, err)
	}
	defer rc.Close()
	if err := readPull(ctx, rc, p); err != nil {
		return fmt.Errorf("pull %s%s: %w", r.Ref, via, err)
	}
	return nil
}

func readPull(ctx context.Context, r io.Reader, p *Progress) error {
	dec := json.NewDecoder(r)
	for {
		var e pullEvent
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("decode progress: %w", err)
		}
		if e.Error != "" {
			return errors.New(e.Error)
		}
		p.event(ctx, e)
	}
}
