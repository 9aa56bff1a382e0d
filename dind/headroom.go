package dind

import (
	"context"

	"cdr.dev/slog"
	"github.com/spf13/afero"
)

// Headroom is what keeps envbox, dockerd and containerd serving when the
// inner containers reach the pod's limits: the reserve (applied by the
// delegation hook) and envbox's own oom_score_adj. Shared by `envbox dind`,
// `envbox docker` and `envbox run`.
type Headroom struct {
	Reserve Reserve
	// Hook is the envbox binary the delegation script runs as the hook;
	// "" applies no reserve.
	Hook string
	// Protect sets envbox's own oom_score_adj (ProtectSelf): on when envbox
	// is PID 1 of the pod.
	Protect bool
}

// Wrapper returns base with the hook, the reserve and dockerd's
// oom_score_adj set, protecting envbox first when asked. It logs once what
// it set; the hook logs the numbers it applied (dockerd's output).
func (h Headroom) Wrapper(ctx context.Context, log slog.Logger, fsys afero.Fs, base Wrapper) Wrapper {
	if h == (Headroom{}) {
		return base
	}
	w := base
	w.Hook, w.Reserve = h.Hook, h.Reserve
	msg, fields := "headroom for the daemons: no reserve", []any{}
	if h.Hook != "" {
		msg = "headroom for the daemons: the containers' parent cgroup gets the pod's limits minus the reserve"
		fields = append(fields, slog.F("reserve_memory", h.Reserve.Memory.String()), slog.F("reserve_pids", h.Reserve.Pids.String()))
		if h.Reserve.Parent != "" {
			fields = append(fields, slog.F("reserve_parent", h.Reserve.Parent))
		}
	}
	if h.Hook == "" && h.Reserve != (Reserve{}) {
		log.Warn(ctx, "no headroom reserve: envbox cannot find its own binary for the delegation hook")
	}
	if h.Protect {
		orig, err := ProtectSelf(fsys)
		if err != nil {
			log.Warn(ctx, "envbox keeps its oom_score_adj", slog.Error(err))
		} else {
			fields = append(fields, slog.F("envbox_oom_score_adj", SelfOOMScoreAdj))
		}
		w.OOMScoreAdj = &orig
		fields = append(fields, slog.F("daemon_oom_score_adj", orig))
	}
	log.Info(ctx, msg, fields...)
	return w
}
