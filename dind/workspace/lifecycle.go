package workspace

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"cdr.dev/slog"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// probeRemoveTimeout bounds the removal of InspectImage's probe container.
const probeRemoveTimeout = 10 * time.Second

// InspectImage learns what ContainerConfig needs from the image by creating
// (never starting) a throwaway container and reading its filesystem.
func InspectImage(ctx context.Context, api API, ref, runtime string) (img Image, err error) {
	c, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: ref, Entrypoint: []string{"/bin/true"}},
		HostConfig: &container.HostConfig{Runtime: runtime},
	})
	if err != nil {
		return Image{}, fmt.Errorf("inspect image %s: create probe: %w", ref, err)
	}
	defer func() {
		// Removed also when ctx ended (SIGTERM during start-up), within
		// its own bound: a probe left behind holds the image for ever.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeRemoveTimeout)
		defer cancel()
		if _, rerr := api.ContainerRemove(rctx, c.ID, client.ContainerRemoveOptions{Force: true}); rerr != nil && !errdefs.IsNotFound(rerr) && err == nil {
			err = fmt.Errorf("inspect image %s: remove probe %s: %w", ref, c.ID, rerr)
		}
	}()
	_, serr := api.ContainerStatPath(ctx, c.ID, client.ContainerStatPathOptions{Path: "/sbin/init"})
	img.HasInit = serr == nil
	img.OSReleaseID, err = osReleaseID(ctx, api, c.ID)
	return img, err
}

// osReleaseID reads ID= from /etc/os-release, following the usual symlink
// to /usr/lib/os-release; an image without one has ID "".
func osReleaseID(ctx context.Context, api API, id string) (string, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		res, err := api.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p})
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("copy %s from %s: %w", p, id, err)
		}
		v, ok, err := parseOSRelease(res.Content)
		res.Content.Close()
		if err != nil || ok {
			return v, err
		}
	}
	return "", nil
}

// parseOSRelease reads the tar stream of one file; ok is false when the
// entry is a symlink (the caller tries the next path).
func parseOSRelease(r io.Reader) (id string, ok bool, err error) {
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err != nil {
		return "", false, fmt.Errorf("read os-release archive: %w", err)
	}
	if h.Typeflag == tar.TypeSymlink {
		return "", false, nil
	}
	s := bufio.NewScanner(tr)
	for s.Scan() {
		if v, found := strings.CutPrefix(s.Text(), "ID="); found {
			return strings.Trim(v, `"'`), true, nil
		}
	}
	return "", true, s.Err()
}

// Create removes any container called name (left by an earlier run of the
// pod: its configuration may be stale), then creates and starts one.
func Create(ctx context.Context, api API, name string, cfg *container.Config, host *container.HostConfig) (string, error) {
	_, err := api.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("remove old container %s: %w", name, err)
	}
	c, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: name})
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	if _, err := api.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start container %s (%s): %w", name, c.ID, err)
	}
	return c.ID, nil
}

// Exit is how the workspace container ended.
type Exit struct {
	Code      int64
	OOMKilled bool
}

func (e Exit) String() string {
	if e.OOMKilled {
		return fmt.Sprintf("exit status %d, OOM-killed", e.Code)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// WaitExit blocks until container id stops, then reports how. An error
// means dockerd could not tell (it died or restarted).
func WaitExit(ctx context.Context, api API, id string) (Exit, error) {
	w := api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var e Exit
	select {
	case r := <-w.Result:
		e.Code = r.StatusCode
	case err := <-w.Error:
		return Exit{}, fmt.Errorf("wait for container %s: %w", id, err)
	}
	info, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return e, fmt.Errorf("inspect container %s: %w", id, err)
	}
	if s := info.Container.State; s != nil {
		e.OOMKilled = s.OOMKilled
	}
	return e, nil
}

// Stopped reports whether container id has stopped, and how.
func Stopped(ctx context.Context, api API, id string) (Exit, bool, error) {
	info, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Exit{}, false, fmt.Errorf("inspect container %s: %w", id, err)
	}
	s := info.Container.State
	if s == nil || s.Running {
		return Exit{}, false, nil
	}
	return Exit{Code: int64(s.ExitCode), OOMKilled: s.OOMKilled}, true, nil
}

// Stop asks the container to stop, killing it after grace.
func Stop(ctx context.Context, api API, id string, grace time.Duration) error {
	secs := int((grace + time.Second - 1) / time.Second)
	if _, err := api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// execInspectTimeout bounds the one question about the ended bootstrap: a
// dockerd that is stopping answers at once with an error.
const execInspectTimeout = 10 * time.Second

// bootstrapShell prepares BINARY_DIR (where Coder's script downloads the
// agent: not /tmp, which systemd may remount under it) and then runs the
// script read from stdin.
const bootstrapShell = `BINARY_DIR="${HOME:-/tmp}/.coder"; mkdir -p "$BINARY_DIR" 2>/dev/null || BINARY_DIR=$(mktemp -d); export BINARY_DIR; exec /bin/sh -s`

// Bootstrap runs script with /bin/sh as user in container id, env added to
// the exec only (the agent token goes here, never into the container's
// configuration). It returns once the script is handed over; its output is
// logged line by line until it ends, then its exit status. The script
// outlives ctx, typically the start-up's (Coder's agent runs as long as the
// workspace), so neither depends on ctx staying alive.
func Bootstrap(ctx context.Context, api API, log slog.Logger, id, user, script string, env []string) error {
	ex, err := api.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: user, Env: env, Cmd: []string{"/bin/sh", "-c", bootstrapShell},
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return fmt.Errorf("bootstrap as %s in %s: create exec: %w", user, id, err)
	}
	resp, err := api.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("bootstrap as %s in %s: attach exec %s: %w", user, id, ex.ID, err)
	}
	if _, err := io.Copy(resp.Conn, strings.NewReader(script)); err != nil {
		resp.Close()
		return fmt.Errorf("bootstrap as %s in %s: send script: %w", user, id, err)
	}
	if err := resp.CloseWrite(); err != nil {
		resp.Close()
		return fmt.Errorf("bootstrap as %s in %s: close stdin: %w", user, id, err)
	}
	go func() {
		logOutput(ctx, log, resp.Reader, resp.Close)
		logExit(ctx, api, log, ex.ID)
	}()
	return nil
}

// logExit reports the bootstrap script's exit status once its output ended,
// asking dockerd for at most execInspectTimeout.
func logExit(ctx context.Context, api API, log slog.Logger, execID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execInspectTimeout)
	defer cancel()
	in, err := api.ExecInspect(ctx, execID, client.ExecInspectOptions{})
	switch {
	case err != nil:
		log.Warn(ctx, "bootstrap status unknown", slog.Error(err))
	case in.Running:
		log.Info(ctx, "bootstrap still running with its output closed")
	case in.ExitCode != 0:
		log.Warn(ctx, "bootstrap script failed", slog.F("exit_code", in.ExitCode))
	default:
		log.Info(ctx, "bootstrap script done", slog.F("exit_code", 0))
	}
}

// logOutput demultiplexes an exec's stdout/stderr and logs each line.
func logOutput(ctx context.Context, log slog.Logger, r io.Reader, closeFn func()) {
	defer closeFn()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, r)
		pw.CloseWithError(err)
	}()
	s := bufio.NewScanner(pr)
	for s.Scan() {
		log.Info(ctx, s.Text())
	}
	if err := s.Err(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		log.Warn(ctx, "bootstrap output ended", slog.Error(err))
	}
}
