package background

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cdr.dev/slog"
)

func TestIdentityIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   identity
		bin  string
		want bool
	}{
		// What /proc shows for dockerd during and after the delegation wrapper.
		{name: "unshare_phase", id: identity{exe: "/usr/bin/unshare", comm: "unshare"}, bin: "dockerd", want: false},
		{name: "sh_phase", id: identity{exe: "/usr/bin/dash", comm: "sh"}, bin: "dockerd", want: false},
		{name: "became_dockerd", id: identity{exe: "/usr/sbin/dockerd", comm: "dockerd"}, bin: "dockerd", want: true},
		// A zombie has no exe, but keeps its comm.
		{name: "zombie_by_comm", id: identity{comm: "dockerd"}, bin: "dockerd", want: true},
		// Exec'd through a symlink: exe is the target, comm the link's name.
		{name: "symlink_by_comm", id: identity{exe: "/usr/libexec/docker/dockerd-real", comm: "dockerd"}, bin: "dockerd", want: true},
		// comm is cut at 15 bytes: "containerd-shim-runc-v2" → "containerd-shim".
		{name: "long_name_comm", id: identity{exe: "/opt/x", comm: "containerd-shim"}, bin: "containerd-shim-runc-v2", want: true},
		{name: "long_name_exe", id: identity{exe: "/usr/bin/containerd-shim-runc-v2", comm: "containerd-shim"}, bin: "containerd-shim-runc-v2", want: true},
		{name: "prefix_is_not_enough", id: identity{exe: "/usr/bin/dockerd-rootless", comm: "dockerd-rootles"}, bin: "dockerd", want: false},
		{name: "nothing_known", id: identity{}, bin: "dockerd", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.id.is(tt.bin); got != tt.want {
				t.Errorf("%+v.is(%q) = %v, want %v", tt.id, tt.bin, got, tt.want)
			}
		})
	}
}

// TestIdentifiedAfterWrapper: started as sh, the process becomes
// fakedockerd 300 ms later; until then it is not identified, and not exited.
func TestIdentifiedAfterWrapper(t *testing.T) {
	t.Parallel()
	log, sink := newLogger(t)
	helper := helperPath("fakedockerd")
	p := newProcess(t, log, "fakedockerd", "/bin/sh", "-c", `sleep 0.3; exec "$0"`, helper)
	p.Env = helperEnv("serve", envRecord+"="+filepath.Join(t.TempDir(), "record"))
	start := time.Now()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if isClosed(p.current().identified) {
		t.Error("identified while still the sh wrapper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitIdentified(ctx); err != nil {
		t.Fatalf("WaitIdentified() = %v, want nil", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("identified after %s, before the wrapper's 300 ms sleep ended", took)
	}
	if isClosed(p.Done()) {
		t.Error("Done closed for a running process")
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(p.Pid()) + "/exe"); err != nil || exe != helper {
		t.Errorf("/proc/%d/exe = %q, %v; want %q", p.Pid(), exe, err, helper)
	}
	if !sink.has("fakedockerd", slog.LevelInfo, "identified") {
		t.Error(`no "identified" logged`)
	}
}

// TestIdentifyNeverBecomes: a process that stays another binary is
// reported with its pid, what it is and its output, and keeps running.
func TestIdentifyNeverBecomes(t *testing.T) {
	t.Parallel()
	log, sink := newLogger(t)
	other := helperPath("notdockerd")
	p := newProcess(t, log, "fakedockerd", other)
	p.Env = helperEnv("serve", envRecord+"="+filepath.Join(t.TempDir(), "record"))
	p.IdentifyTimeout = 300 * time.Millisecond
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.WaitIdentified(ctx)
	var ie *IdentityError
	if !errors.As(err, &ie) {
		t.Fatalf("WaitIdentified() = %v, want *IdentityError", err)
	}
	if ie.Waited < 300*time.Millisecond || ie.Waited > 2*time.Second {
		t.Errorf("waited %s, want the 300 ms timeout (+ one poll)", ie.Waited)
	}
	want := IdentityError{BinName: "fakedockerd", Pid: p.Pid(), Exe: other, Comm: "notdockerd", Waited: ie.Waited, Tail: "ready"}
	if *ie != want {
		t.Errorf("identity error = %+v, want %+v", *ie, want)
	}
	wantMsg := fmt.Sprintf("fakedockerd: pid %d is still \"notdockerd\" (exe %s) after %s; last output:\nready", p.Pid(), other, ie.Waited)
	if ie.Error() != wantMsg {
		t.Errorf("error text = %q, want %q", ie.Error(), wantMsg)
	}
	if isClosed(p.Done()) || isClosed(p.current().identified) {
		t.Errorf("done=%v identified=%v, want a running, unidentified process", isClosed(p.Done()), isClosed(p.current().identified))
	}
	if !sink.has("fakedockerd", slog.LevelError, "process never became fakedockerd") {
		t.Error(`no error "process never became fakedockerd" logged`)
	}
}

// TestIdentifyExitsFirst: a wrapper that dies before it execs reports its
// exit status as the reason, not a timeout.
func TestIdentifyExitsFirst(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	p := newProcess(t, log, "fakedockerd", "/bin/sh", "-c", "sleep 0.1; echo bye; exit 3")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.WaitIdentified(ctx)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 3 {
		t.Fatalf("WaitIdentified() = %v, want an error wrapping exit status 3", err)
	}
	want := fmt.Sprintf("sh (pid %d) exited before it became fakedockerd: fakedockerd (pid %d) exit status 3; last output:\nbye", p.Pid(), p.Pid())
	if err.Error() != want {
		t.Errorf("error text = %q, want %q", err.Error(), want)
	}
	if strings.Contains(err.Error(), "is still") {
		t.Errorf("exit reported as an identity timeout: %v", err)
	}
}
