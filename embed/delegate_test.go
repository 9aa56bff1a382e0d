package embed_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// wantArgv is what the target must receive: the script's $0, then "$@".
func wantArgv() []string {
	return append([]string{targetArg}, targetArgs...)
}

func checkTarget(t *testing.T, o outcome, wantCgroup string) {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(o.out["argv"]), &argv); err != nil {
		t.Fatalf("target argv %q: %v (stderr %q)", o.out["argv"], err, o.stderr)
	}
	if !slices.Equal(argv, wantArgv()) {
		t.Errorf("target argv[1:] = %q, want %q", argv, wantArgv())
	}
	if got := o.out["cgroup"]; got != wantCgroup {
		t.Errorf("target /proc/self/cgroup v2 line %q, want %q", got, wantCgroup)
	}
}

// TestDelegateRealKernel fills a test cgroup's root with 50 processes and
// runs the script under each shell: every process must end in /init, the
// root must be empty, the target must see itself at /init of its cgroup
// namespace and receive its argv unchanged.
func TestDelegateRealKernel(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			var root, init []int
			var rootErr, initErr error
			var subtree string
			d := delegation{shell: sh.argv, sleeps: 50, whileHeld: func() {
				root, rootErr = c.Procs("")
				init, initErr = c.Procs("init")
				subtree, _ = c.ReadFile("cgroup.subtree_control")
			}}
			o := d.run(t, c)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q, want 0 and nothing", o.code, o.stderr)
			}
			checkTarget(t, o, "0::/init")
			if rootErr != nil || initErr != nil {
				t.Fatalf("host view: %v, %v", rootErr, initErr)
			}
			if len(root) != 0 {
				t.Errorf("host %s/cgroup.procs = %v, want empty", c.Path, root)
			}
			// Everything the root held: 50 sleeps and the launcher, which
			// the script's shell became the target of (same pid as the
			// printed one).
			want := append(o.pids(t, "sleeps"), o.launcher, o.pids(t, "pid")[0])
			slices.Sort(want)
			slices.Sort(init)
			if !slices.Equal(init, want) {
				t.Errorf("host %s/init/cgroup.procs = %v, want %v", c.Path, init, want)
			}
			// This host's cgroup2 has no controllers for test cgroups: the
			// enable step writes nothing (the VM test proves controllers).
			if subtree != "" {
				t.Errorf("host %s/cgroup.subtree_control = %q, want %q", c.Path, subtree, "")
			}
		})
	}
}

// TestDelegateMountBusy: a process of the container keeps a file of the
// cgroup2 mount open, as the Go runtime of envbox itself does with cpu.max
// (cgroup-aware GOMAXPROCS, Go 1.25+) wherever the pod has a CPU limit. The
// remount must still happen: a plain umount fails with EBUSY.
func TestDelegateMountBusy(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			o := delegation{shell: sh.argv, sleeps: 3, busy: true}.run(t, c)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q, want 0 and nothing", o.code, o.stderr)
			}
			checkTarget(t, o, "0::/init")
		})
	}
}

// TestDelegateNoCgroup2 puts an empty directory at /sys/fs/cgroup (what a
// v1 or hybrid host shows there: no cgroup.controllers): the script must
// exec the target unchanged and touch nothing.
func TestDelegateNoCgroup2(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			fake, tools, log := t.TempDir(), fakeTools(t, 0, 0), ""
			d := delegation{shell: sh.argv, sleeps: 3, bind: fake, path: tools}
			o := d.run(t, c)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q, want 0 and nothing", o.code, o.stderr)
			}
			checkTarget(t, o, "0::/")
			if entries, _ := os.ReadDir(fake); len(entries) != 0 {
				t.Errorf("fake /sys/fs/cgroup holds %v, want nothing created", entries)
			}
			if b, err := os.ReadFile(filepath.Join(tools, "log")); err == nil {
				log = string(b)
			}
			if log != "" {
				t.Errorf("fake mount/umount called: %q, want no call", log)
			}
			if _, err := os.Stat(filepath.Join(c.Path, "init")); !os.IsNotExist(err) {
				t.Errorf("host %s/init: %v, want not created", c.Path, err)
			}
		})
	}
}
