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

// EnsureImage uses ref when dockerd already has it, else pulls it with the
// encoded registry auth ("" for none), logging progress.
func EnsureImage(ctx context.Context, api API, ref, auth string, p *Progress) error {
	_, err := api.ImageInspect(ctx, ref)
	if err == nil {
		p.Log.Info(ctx, "image present, not pulling", slog.F("image", ref))
		return nil
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	p.Log.Info(ctx, "pulling image", slog.F("image", ref), slog.F("with_auth", auth != ""))
	rc, err := api.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer rc.Close()
	if err := readPull(ctx, rc, p); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
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
