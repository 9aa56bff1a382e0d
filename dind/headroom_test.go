package dind

import (
	"context"
	"testing"

	"cdr.dev/slog/sloggers/slogtest"
	"github.com/spf13/afero"
)

func TestHeadroomWrapper(t *testing.T) {
	t.Parallel()
	ctx, log := context.Background(), slogtest.Make(t, nil)
	fsys := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys, "/proc/self/oom_score_adj", []byte("-997\n"), 0o644)
	base := Wrapper{Attempts: 7}
	if got := (Headroom{}).Wrapper(ctx, log, fsys, base); got != base {
		t.Errorf("zero Headroom changed the wrapper: %+v", got)
	}
	h := Headroom{Reserve: DefaultReserve, Hook: "/usr/local/bin/envbox", Protect: true}
	w := h.Wrapper(ctx, log, fsys, base)
	if w.Attempts != 7 || w.Hook != "/usr/local/bin/envbox" || w.Reserve != DefaultReserve || w.OOMScoreAdj == nil || *w.OOMScoreAdj != -997 {
		t.Errorf("Wrapper = %+v, want attempts 7, the hook, the default reserve and dockerd's score -997", w)
	}
	if b, _ := afero.ReadFile(fsys, "/proc/self/oom_score_adj"); string(b) != "-999" {
		t.Errorf("envbox's own oom_score_adj = %q, want -999", b)
	}
	// envbox run without --cgroup-parent: no hook, no reserve, the
	// oom_score_adj as with one.
	fsys2 := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys2, "/proc/self/oom_score_adj", []byte("0\n"), 0o644)
	w = Headroom{Protect: true}.Wrapper(ctx, log, fsys2, base)
	if w.Hook != "" || w.Reserve != (Reserve{}) || w.OOMScoreAdj == nil || *w.OOMScoreAdj != 0 {
		t.Errorf("Wrapper without a reserve = %+v, want no hook, no reserve and the daemon's score 0", w)
	}
	if b, _ := afero.ReadFile(fsys2, "/proc/self/oom_score_adj"); string(b) != "-999" {
		t.Errorf("envbox's own oom_score_adj without a reserve = %q, want -999", b)
	}
	// Not PID 1: envbox's score and dockerd's are left alone.
	w = Headroom{Reserve: DefaultReserve, Hook: "/envbox"}.Wrapper(ctx, log, afero.NewReadOnlyFs(afero.NewMemMapFs()), base)
	if w.OOMScoreAdj != nil || w.Hook != "/envbox" {
		t.Errorf("Wrapper without Protect = %+v, want no oom_score_adj", w)
	}
}
