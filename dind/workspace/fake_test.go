package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"cdr.dev/slog"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/envbox/envbox/dind"
)

// recorder is the ordered list of what the flow did, across fakes.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// fakeProc is a supervised process that never runs anything.
type fakeProc struct {
	rec    *recorder
	mu     sync.Mutex
	name   string
	argv   [][]string // every start and restart
	env    []string
	onLine func(string)
	log    slog.Logger
	done   chan struct{}
	err    error
	// unidentified runs never become their binary.
	unidentified bool
	// started is signalled at every start and restart.
	started chan struct{}
}

func (p *fakeProc) Done() <-chan struct{} { p.mu.Lock(); defer p.mu.Unlock(); return p.done }

func (p *fakeProc) Wait() error {
	<-p.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// exit ends the current run with err, after printing lines.
func (p *fakeProc) exit(err error, lines ...string) {
	for _, l := range lines {
		p.emit(l)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	p.err = err
	close(p.done)
}

// emit prints one output line the way background.Process does: logged
// under the process's name, then handed to OnLine.
func (p *fakeProc) emit(line string) {
	p.log.Named(p.name).Info(context.Background(), line)
	if p.onLine != nil {
		p.onLine(line)
	}
}

func (p *fakeProc) WaitIdentified(context.Context) error {
	if p.unidentified {
		return errors.New("still sh")
	}
	return nil
}
func (p *fakeProc) Pid() int               { return 7 }
func (p *fakeProc) Tail() string           { return "" }
func (p *fakeProc) Signal(os.Signal) error { return nil }

func (p *fakeProc) Stop(time.Duration) error {
	p.rec.add("stop %s", p.name)
	p.exit(nil)
	return nil
}

func (p *fakeProc) Restart(_ time.Duration, binName, cmd string, args ...string) error {
	p.exit(nil)
	p.mu.Lock()
	p.argv = append(p.argv, append([]string{cmd}, args...))
	p.done, p.err = make(chan struct{}), nil
	p.mu.Unlock()
	p.rec.add("restart %s as %s", p.name, binName)
	p.started <- struct{}{}
	return nil
}

// Close is the client's: the session closes it once.
func (f *fakeAPI) Close() error { f.rec.add("close client"); return nil }

// fakeAPI is dockerd as the Docker client sees it.
type fakeAPI struct {
	rec        *recorder
	mu         sync.Mutex
	pingErr    error
	haveImage  bool
	created    []*container.Config
	hosts      []*container.HostConfig
	execs      []client.ExecCreateOptions
	scripts    chan string
	bootOutput string
	// bootEnd, when set, holds the bootstrap's output open until closed;
	// bootExit is its exit code.
	bootEnd  chan struct{}
	bootExit int
	// waiting is closed when supervision first waits on the workspace.
	waiting     chan struct{}
	waitingOnce sync.Once
	// exits delivers the workspace container's end to ContainerWait;
	// waitErrs fails it (dockerd's API went away).
	exits     chan container.WaitResponse
	waitErrs  chan error
	oomKilled bool
	nextID    int
	// pullErrs are returned by successive pulls before they succeed.
	pullErrs []error
	// attachErr fails the bootstrap exec; dead makes the workspace look
	// stopped (exit 137) to inspection.
	attachErr error
	dead      bool
	// identified is closed once dockerd's namespace is kept: like the real
	// one, the fake API answers only after dockerd has become dockerd.
	identified     chan struct{}
	identifiedOnce sync.Once
}

func newFakeAPI(rec *recorder) *fakeAPI {
	return &fakeAPI{rec: rec, haveImage: true, scripts: make(chan string, 4), exits: make(chan container.WaitResponse, 1),
		waitErrs:   make(chan error, 1),
		identified: make(chan struct{}), waiting: make(chan struct{})}
}

func (f *fakeAPI) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	select {
	case <-f.identified:
	default:
		return client.PingResult{}, errors.New("dockerd not up yet")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.PingResult{}, f.pingErr
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.haveImage {
		var r client.ImageInspectResult
		r.ID = ref
		return r, nil
	}
	return client.ImageInspectResult{}, errdefs.ErrNotFound.WithMessage("no such image: " + ref)
}

// pullStream is a pull progress stream; envbox reads it as bytes only.
type pullStream struct{ io.ReadCloser }

func (pullStream) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	panic("envbox reads the pull stream as bytes")
}

func (pullStream) Wait(context.Context) error { panic("envbox reads the pull stream as bytes") }

func (f *fakeAPI) ImagePull(_ context.Context, ref string, o client.ImagePullOptions) (client.ImagePullResponse, error) {
	f.rec.add("pull %s auth=%t", ref, o.RegistryAuth != "")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pullErrs) > 0 {
		err := f.pullErrs[0]
		f.pullErrs = f.pullErrs[1:]
		return nil, err
	}
	return pullStream{io.NopCloser(strings.NewReader(`{"status":"Pulling fs layer","id":"a1"}` + "\n" + `{"status":"Download complete","id":"a1"}` + "\n"))}, nil
}

func (f *fakeAPI) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.created, f.hosts = append(f.created, o.Config), append(f.hosts, o.HostConfig)
	f.rec.add("create %s", o.Name)
	return client.ContainerCreateResult{ID: fmt.Sprintf("id%d", f.nextID)}, nil
}

func (f *fakeAPI) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.rec.add("start %s", id)
	return client.ContainerStartResult{}, nil
}

func (f *fakeAPI) ContainerStop(_ context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.rec.add("stop container %s timeout=%d", id, *o.Timeout)
	return client.ContainerStopResult{}, nil
}

func (f *fakeAPI) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.rec.add("remove %s", id)
	if strings.HasPrefix(id, "id") {
		return client.ContainerRemoveResult{}, nil
	}
	return client.ContainerRemoveResult{}, errdefs.ErrNotFound.WithMessage("no such container: " + id)
}

func (f *fakeAPI) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	state := &container.State{Running: !f.dead, OOMKilled: f.oomKilled}
	if f.dead {
		state.ExitCode = 137
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, State: state}}, nil
}

func (f *fakeAPI) ContainerWait(ctx context.Context, _ string, _ client.ContainerWaitOptions) client.ContainerWaitResult {
	res, errs := make(chan container.WaitResponse, 1), make(chan error, 1)
	f.waitingOnce.Do(func() { close(f.waiting) })
	go func() {
		select {
		case r := <-f.exits:
			res <- r
		case err := <-f.waitErrs:
			errs <- err
		case <-ctx.Done():
			errs <- ctx.Err()
		}
	}()
	return client.ContainerWaitResult{Result: res, Error: errs}
}

func (f *fakeAPI) ContainerStatPath(context.Context, string, client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	return client.ContainerStatPathResult{}, errdefs.ErrNotFound.WithMessage("no /sbin/init")
}

func (f *fakeAPI) CopyFromContainer(context.Context, string, client.CopyFromContainerOptions) (client.CopyFromContainerResult, error) {
	return client.CopyFromContainerResult{}, errdefs.ErrNotFound.WithMessage("no os-release")
}

func (f *fakeAPI) ExecCreate(_ context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, o)
	f.rec.add("exec in %s as %s", id, o.User)
	return client.ExecCreateResult{ID: "exec1"}, nil
}

// ExecInspect fails on a done ctx, as the real client does.
func (f *fakeAPI) ExecInspect(ctx context.Context, _ string, _ client.ExecInspectOptions) (client.ExecInspectResult, error) {
	if err := ctx.Err(); err != nil {
		return client.ExecInspectResult{}, err
	}
	return client.ExecInspectResult{ExitCode: f.bootExit}, nil
}

func (f *fakeAPI) ExecAttach(context.Context, string, client.ExecAttachOptions) (client.ExecAttachResult, error) {
	if f.attachErr != nil {
		return client.ExecAttachResult{}, f.attachErr
	}
	// The script goes in through the conn; the output comes back
	// multiplexed, as dockerd sends it, once the script is in.
	ours, theirs := net.Pipe()
	out, outW := io.Pipe()
	go func() {
		b, _ := io.ReadAll(theirs)
		f.scripts <- string(b)
		_, _ = outW.Write(stdoutFrame(f.bootOutput))
		if f.bootEnd != nil {
			<-f.bootEnd
		}
		outW.Close()
	}()
	return client.ExecAttachResult{HijackedResponse: client.HijackedResponse{Conn: closeWriter{ours}, Reader: bufio.NewReader(out)}}, nil
}

// stdoutFrame is data as one stdout frame of dockerd's multiplexed stream
// (what stdcopy.StdCopy reads): stream 1, three zero bytes, the length as a
// big-endian uint32, then the data.
func stdoutFrame(data string) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{byte(stdcopy.Stdout), 0, 0, 0}, uint32(len(data))), data...)
}

// closeWriter ends the script stream the way a TCP half-close would.
type closeWriter struct{ net.Conn }

func (c closeWriter) CloseWrite() error { return c.Conn.Close() }

// fakeWorld wires fakes into SessionDeps.
type fakeWorld struct {
	rec     *recorder
	api     *fakeAPI
	procs   map[string]*fakeProc
	mu      sync.Mutex
	started chan string
	signals chan os.Signal
	// nsKept receives the path of the cgroup namespace kept for restarts.
	nsKept chan string
	logs   *dockerLogBuffer
	// unidentified: no process ever becomes its binary.
	unidentified bool
}

// dockerLogBuffer collects log output from several goroutines.
type dockerLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *dockerLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *dockerLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (w *fakeWorld) start(_ context.Context, log slog.Logger, cmd dind.Command, opts dind.StartOptions) (dind.Proc, error) {
	p := &fakeProc{rec: w.rec, name: cmd.BinName, argv: [][]string{cmd.Argv()}, env: append(append([]string{}, cmd.Env...), opts.Env...),
		onLine: opts.OnLine, log: log, done: make(chan struct{}), started: make(chan struct{}, 4), unidentified: w.unidentified}
	w.mu.Lock()
	w.procs[cmd.BinName] = p
	w.mu.Unlock()
	w.rec.add("start %s", cmd.BinName)
	w.started <- cmd.BinName
	return p, nil
}

// openNS keeps /dev/null as the first dockerd's "namespace": restarts must
// name it through nsenter, as /proc/<envbox>/fd/<fd>.
func (w *fakeWorld) openNS(int) (*os.File, error) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	w.api.identifiedOnce.Do(func() { close(w.api.identified) })
	w.nsKept <- fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd())
	return f, nil
}

func (w *fakeWorld) proc(name string) *fakeProc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs[name]
}
