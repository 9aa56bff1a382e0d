package xunixfake

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestExecerScriptsAndRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boom := errors.New("exit status 1")
	e := NewExecer()
	e.On(Result{Stdout: []byte("Docker version 24.0.7\n")}, "docker", "--version")
	e.On(Result{Stderr: []byte("first fails\n"), Err: boom}, "mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup")
	e.On(Result{}, "mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup")

	out, err := e.CommandContext(ctx, "docker", "--version").Output()
	if string(out) != "Docker version 24.0.7\n" || err != nil {
		t.Errorf("docker --version = %q, %v; want the scripted stdout", out, err)
	}
	m := e.CommandContext(ctx, "mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup")
	m.SetEnv([]string{"A=1"})
	m.SetStdin(strings.NewReader("input"))
	combined, err := m.CombinedOutput()
	if string(combined) != "first fails\n" || !errors.Is(err, boom) {
		t.Errorf("first mount = %q, %v; want stderr and the scripted error", combined, err)
	}
	for i := range 2 { // the last result repeats
		if err := e.CommandContext(ctx, "mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup").Run(); err != nil {
			t.Errorf("mount run %d = %v, want nil", i+2, err)
		}
	}
	err = e.CommandContext(ctx, "rm", "-rf", "/").Run()
	if err == nil || err.Error() != `xunixfake: unscripted command ["rm" "-rf" "/"]` {
		t.Errorf("unscripted command error = %v, want it to name the argv", err)
	}

	want := []Call{
		{Argv: []string{"docker", "--version"}},
		{Argv: []string{"mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"}, Env: []string{"A=1"}, Stdin: []byte("input")},
		{Argv: []string{"mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"}},
		{Argv: []string{"mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"}},
		{Argv: []string{"rm", "-rf", "/"}},
	}
	if got := e.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("Calls() =\n%q\nwant\n%q", got, want)
	}
	if got := e.Argvs(); len(got) != 5 || !reflect.DeepEqual(got[4], []string{"rm", "-rf", "/"}) {
		t.Errorf("Argvs() = %q", got)
	}
}

func TestCmdStartWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := NewExecer()
	e.On(Result{Stdout: []byte("up\n"), Err: errors.New("signal: killed")}, "dockerd")
	c := e.CommandContext(ctx, "dockerd")
	if err := c.Wait(); err == nil || err.Error() != `xunixfake: ["dockerd"] not started` {
		t.Errorf("Wait before Start = %v", err)
	}
	var out bytes.Buffer
	c.SetStdout(&out)
	if err := c.Start(); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if err := c.Start(); err == nil || err.Error() != `xunixfake: ["dockerd"] already started` {
		t.Errorf("second Start = %v", err)
	}
	if err := c.Wait(); err == nil || err.Error() != "signal: killed" || out.String() != "up\n" {
		t.Errorf("Wait = %v, stdout %q; want the scripted error and output", err, out.String())
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.CommandContext(cancelled, "dockerd").Run(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context = %v, want context.Canceled", err)
	}
	if n := len(e.Calls()); n != 1 {
		t.Errorf("%d calls recorded, want 1 (a cancelled command never starts)", n)
	}
}
