package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/afero"
)

// fakeDocker serves a fixed container list; pids maps ID to State.Pid.
type fakeDocker struct {
	list    []container.Summary
	pids    map[string]int
	listErr error
}

func (f *fakeDocker) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.list}, f.listErr
}

func (f *fakeDocker) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	pid, ok := f.pids[id]
	if !ok {
		return client.ContainerInspectResult{}, fmt.Errorf("no such container: %s", id)
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{
		ID: id, State: &container.State{Running: pid > 0, Pid: pid},
	}}, nil
}

// memFs builds a MemMapFs from path → content; a path ending in "/" is a
// directory.
func memFs(t *testing.T, files map[string]string) afero.Fs {
	t.Helper()
	fsys := afero.NewMemMapFs()
	for p, data := range files {
		if p[len(p)-1] == '/' {
			if err := fsys.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := afero.WriteFile(fsys, p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

// fakeInodes answers Inode from a fixed table of cgroup directories.
func fakeInodes(inodes map[string]uint64) func(string) (uint64, error) {
	return func(p string) (uint64, error) {
		if ino, ok := inodes[p]; ok {
			return ino, nil
		}
		return 0, &fs.PathError{Op: "stat", Path: p, Err: errors.ErrUnsupported}
	}
}
