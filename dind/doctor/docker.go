package doctor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/envbox/envbox/xunix"
)

// Docker is the part of the Docker client doctor uses.
type Docker interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

var _ Docker = (*client.Client)(nil)

// NewClient is the official client for host (unix:// or tcp://), speaking
// whatever API version the daemon offers.
func NewClient(host string) (Docker, error) {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", host, err)
	}
	return c, nil
}

// containers checks every running container, sorted by name. A failed
// listing is an offender: nothing proves the containers are attributed.
func (v view) containers(ctx context.Context) []Subject {
	if v.c.Docker == nil {
		return nil
	}
	list, err := v.c.Docker.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("docker %s: list containers: %v", v.c.DockerHost, err))
		return nil
	}
	subjects := make([]Subject, 0, len(list.Items))
	for _, ctr := range list.Items {
		subjects = append(subjects, Subject{Kind: kindContainer, Name: containerName(ctr), ID: ctr.ID})
	}
	sort.SliceStable(subjects, func(i, j int) bool { return subjects[i].Name < subjects[j].Name })
	for i := range subjects {
		subjects[i] = v.container(ctx, subjects[i])
	}
	return subjects
}

// container finds the container's init process and its cgroup.
func (v view) container(ctx context.Context, s Subject) Subject {
	ins, err := v.c.Docker.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
	if err != nil {
		return v.failed(s, fmt.Errorf("inspect: %w", err))
	}
	state := ins.Container.State
	if state == nil || state.Pid <= 0 {
		return v.failed(s, fmt.Errorf("inspect: no running process (State.Pid 0)"))
	}
	s.PID = state.Pid
	cgs, err := xunix.ParseCgroupFile(v.c.Fs, "/proc/"+strconv.Itoa(s.PID)+"/cgroup")
	if err != nil {
		return v.failed(s, err)
	}
	cg, err := cgs.V2Path()
	if err != nil {
		return v.failed(s, err)
	}
	return v.subject(s, cg)
}

// containerName is the first name without the leading "/", else the short ID.
func containerName(c container.Summary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return shortID(c.ID)
}
