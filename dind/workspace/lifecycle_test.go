package workspace

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cdr.dev/slog"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// captureSink keeps each entry as "message field=value ...".
type captureSink struct {
	mu    sync.Mutex
	lines []string
}

func (c *captureSink) LogEntry(_ context.Context, e slog.SinkEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line := e.Message
	for _, f := range e.Fields {
		line += fmt.Sprintf(" %s=%v", f.Name, f.Value)
	}
	c.lines = append(c.lines, line)
}

func (c *captureSink) Sync() {}

func TestProgressRateLimitsPerLayer(t *testing.T) {
	t.Parallel()
	sink := &captureSink{}
	now := time.Unix(1000, 0)
	p := &Progress{Log: slog.Make(sink), Now: func() time.Time { return now }, Every: 2 * time.Second}
	// From a real `docker pull debian:bookworm` stream, trimmed.
	stream := []struct {
		after time.Duration
		json  string
	}{
		{0, `{"status":"Pulling from library/debian","id":"bookworm"}`},
		{0, `{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2"}`},
		{100 * time.Millisecond, `{"status":"Downloading","progressDetail":{"current":1000,"total":49000000},"id":"a1b2"}`},
		{500 * time.Millisecond, `{"status":"Downloading","progressDetail":{"current":5000000,"total":49000000},"id":"a1b2"}`},
		{2 * time.Second, `{"status":"Downloading","progressDetail":{"current":30000000,"total":49000000},"id":"a1b2"}`},
		{100 * time.Millisecond, `{"status":"Download complete","progressDetail":{},"id":"a1b2"}`},
		{0, `{"status":"Digest: sha256:0123"}`},
	}
	var in bytes.Buffer
	for _, e := range stream {
		in.WriteString(e.json + "\n")
	}
	i := 0
	p.Now = func() time.Time { now = now.Add(stream[min(i, len(stream)-1)].after); i++; return now }
	if err := readPull(context.Background(), &in, p); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pull progress layer=bookworm status=Pulling from library/debian",
		"pull progress layer=a1b2 status=Pulling fs layer",
		"pull progress layer=a1b2 status=Downloading current=1000 total=49000000",
		"pull progress layer=a1b2 status=Downloading current=30000000 total=49000000",
		"pull progress layer=a1b2 status=Download complete",
		"pull progress layer= status=Digest: sha256:0123",
	}
	if !reflect.DeepEqual(sink.lines, want) {
		t.Errorf("logged\n%q\nwant\n%q", sink.lines, want)
	}
}

func TestReadPullError(t *testing.T) {
	t.Parallel()
	p := &Progress{Log: slog.Make(&captureSink{}), Now: time.Now, Every: time.Second}
	in := strings.NewReader(`{"status":"Pulling fs layer","id":"a1"}` + "\n" + `{"error":"write /var/lib/docker/tmp: no space left on device"}` + "\n")
	err := readPull(context.Background(), in, p)
	if err == nil || err.Error() != "write /var/lib/docker/tmp: no space left on device" {
		t.Errorf("readPull error = %v, want dockerd's error text", err)
	}
}

// probeAPI serves InspectImage from an in-memory image filesystem.
type probeAPI struct {
	API
	files   map[string]*tar.Header
	bodies  map[string]string
	removed []string
}

func (f *probeAPI) ContainerCreate(context.Context, client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	return client.ContainerCreateResult{ID: "probe1"}, nil
}

func (f *probeAPI) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.removed = append(f.removed, id)
	return client.ContainerRemoveResult{}, nil
}

func (f *probeAPI) ContainerStatPath(_ context.Context, _ string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	if _, ok := f.files[o.Path]; ok {
		return client.ContainerStatPathResult{Stat: container.PathStat{Name: o.Path}}, nil
	}
	return client.ContainerStatPathResult{}, errdefs.ErrNotFound.WithMessage("no " + o.Path)
}

func (f *probeAPI) CopyFromContainer(_ context.Context, _ string, o client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	p := o.SourcePath
	h, ok := f.files[p]
	if !ok {
		return client.CopyFromContainerResult{}, errdefs.ErrNotFound.WithMessage("no " + p)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	h.Size = int64(len(f.bodies[p]))
	_ = tw.WriteHeader(h)
	_, _ = tw.Write([]byte(f.bodies[p]))
	_ = tw.Close()
	return client.CopyFromContainerResult{Content: io.NopCloser(&b)}, nil
}

func TestInspectImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		files  map[string]*tar.Header
		bodies map[string]string
		want   Image
	}{
		{name: "ubuntu_symlinked_os_release_with_init",
			files: map[string]*tar.Header{
				"/sbin/init":          {Name: "init", Typeflag: tar.TypeSymlink, Linkname: "/lib/systemd/systemd"},
				"/etc/os-release":     {Name: "os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release"},
				"/usr/lib/os-release": {Name: "os-release", Typeflag: tar.TypeReg, Mode: 0o644},
			},
			bodies: map[string]string{"/usr/lib/os-release": "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"},
			want:   Image{HasInit: true, OSReleaseID: "ubuntu"}},
		{name: "fedora_quoted_id",
			files:  map[string]*tar.Header{"/etc/os-release": {Name: "os-release", Typeflag: tar.TypeReg, Mode: 0o644}},
			bodies: map[string]string{"/etc/os-release": "NAME=\"Fedora Linux\"\nID=\"fedora\"\n"},
			want:   Image{OSReleaseID: "fedora"}},
		{name: "scratch", files: map[string]*tar.Header{}, want: Image{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &probeAPI{files: tt.files, bodies: tt.bodies}
			got, err := InspectImage(context.Background(), api, "img", RuntimeRunc)
			if err != nil || got != tt.want {
				t.Errorf("InspectImage = %+v, %v; want %+v", got, err, tt.want)
			}
			if !reflect.DeepEqual(api.removed, []string{"probe1"}) {
				t.Errorf("removed %q, want the probe container", api.removed)
			}
		})
	}
}

type pingAPI struct {
	API
	mu    sync.Mutex
	fails int
}

func (p *pingAPI) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fails > 0 {
		p.fails--
		return client.PingResult{}, errors.New("connection refused")
	}
	return client.PingResult{}, nil
}

func TestWaitForAPI(t *testing.T) {
	t.Parallel()
	if err := WaitForAPI(context.Background(), &pingAPI{fails: 3}, time.Millisecond); err != nil {
		t.Errorf("WaitForAPI after 3 failures = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := WaitForAPI(ctx, &pingAPI{fails: 1 << 30}, time.Millisecond)
	if err == nil || err.Error() != "docker API: context deadline exceeded (last ping: connection refused)" {
		t.Errorf("WaitForAPI never answering = %v", err)
	}
}

type stateAPI struct {
	API
	state *container.State
}

func (s stateAPI) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, State: s.state}}, nil
}

func TestStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		state       *container.State
		want        Exit
		wantStopped bool
	}{
		{name: "running", state: &container.State{Running: true}},
		{name: "killed", state: &container.State{ExitCode: 137}, want: Exit{Code: 137}, wantStopped: true},
		{name: "oom", state: &container.State{ExitCode: 137, OOMKilled: true}, want: Exit{Code: 137, OOMKilled: true}, wantStopped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, stopped, err := Stopped(context.Background(), stateAPI{state: tt.state}, "c1")
			if err != nil || got != tt.want || stopped != tt.wantStopped {
				t.Errorf("Stopped(%+v) = %+v, %v, %v; want %+v, %v", tt.state, got, stopped, err, tt.want, tt.wantStopped)
			}
		})
	}
}
