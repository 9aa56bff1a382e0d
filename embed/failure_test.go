package embed_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// TestDelegateBadAttempts: a bad bound is a usage error (exit 2) that names
// the variable and the value, before anything is mounted or moved.
func TestDelegateBadAttempts(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"empty", "", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="": want a whole number from 1 to 999999999` + "\n"},
		{"zero", "0", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="0": want a whole number from 1 to 999999999` + "\n"},
		{"negative", "-1", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="-1": want a whole number from 1 to 999999999` + "\n"},
		{"word", "ten", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="ten": want a whole number from 1 to 999999999` + "\n"},
		{"leading_zero", "010", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="010": want a whole number from 1 to 999999999` + "\n"},
		{"too_big", "1000000000", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS="1000000000": want a whole number from 1 to 999999999` + "\n"},
		{"space", " 5", `envbox-delegate: ENVBOX_DELEGATE_ATTEMPTS=" 5": want a whole number from 1 to 999999999` + "\n"},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			for _, tt := range tests {
				d := delegation{shell: sh.argv, env: []string{"ENVBOX_DELEGATE_ATTEMPTS=" + tt.value}}
				o := d.run(t, c)
				if o.code != 2 || o.stderr != tt.want || o.out["argv"] != "" {
					t.Errorf("%s: ENVBOX_DELEGATE_ATTEMPTS=%q: exit %d, stderr %q, target argv %q; want exit 2, stderr %q, no target",
						tt.name, tt.value, o.code, o.stderr, o.out["argv"], tt.want)
				}
			}
			if _, err := os.Stat(filepath.Join(c.Path, "init")); !os.IsNotExist(err) {
				t.Errorf("host %s/init: %v, want not created", c.Path, err)
			}
		})
	}
}

// exhaustedLine is the one line the script prints when it gives up
// because no process can be moved (no controllers on this host).
var exhaustedLine = regexp.MustCompile(`^envbox-delegate: gave up after (\d+) attempts: ` +
	`move (\d+) to /sys/fs/cgroup/init/cgroup.procs: Operation not supported; ` +
	`pids still in /sys/fs/cgroup: (\d+(?: \d+)*); controllers refusing: none\n$`)

// TestDelegateExhausted makes every move fail: a threaded child in the root
// turns the root into a threaded domain and the script's init into "domain
// invalid", which takes no process (EOPNOTSUPP). With a bound of 1 (and 3)
// the script must give up with one line naming the attempts, the errno of
// the last move and exactly the processes left in the root, and never exec
// the target.
func TestDelegateExhausted(t *testing.T) {
	for _, sh := range shells {
		for _, attempts := range []string{"1", "3"} {
			t.Run(sh.name+"_"+attempts, func(t *testing.T) {
				t.Parallel()
				needShell(t, sh.argv)
				c := cgtest.New(t)
				if err := os.Mkdir(filepath.Join(c.Path, "threaded"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(c.Path, "threaded", "cgroup.type"), []byte("threaded"), 0); err != nil {
					t.Fatal(err)
				}
				d := delegation{shell: sh.argv, sleeps: 5, env: []string{"ENVBOX_DELEGATE_ATTEMPTS=" + attempts}}
				o := d.run(t, c)
				m := exhaustedLine.FindStringSubmatch(o.stderr)
				if o.code != 1 || m == nil || m[1] != attempts || o.out["argv"] != "" {
					t.Fatalf("exit %d, stderr %q, target argv %q; want exit 1, one line matching %s with %s attempts, no target",
						o.code, o.stderr, o.out["argv"], exhaustedLine, attempts)
				}
				left := strings.Fields(m[3])
				if m[2] != left[0] {
					t.Errorf("last error names pid %s, want the first left in the root, %s", m[2], left[0])
				}
				want := append(o.pids(t, "sleeps"), o.launcher, o.pids(t, "script")[0])
				if got := atois(t, left); !sameSet(got, want) {
					t.Errorf("pids still in the root %v, want the sleeps, the launcher and the script's shell %v", got, want)
				}
			})
		}
	}
}

// TestDelegateChurn: six processes write themselves back into the root as
// fast as they can while the script runs with the default bound: it must
// still converge and exec the target from /init.
func TestDelegateChurn(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			o := delegation{shell: sh.argv, sleeps: 20, blockers: 6}.run(t, c)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q, want 0 and nothing", o.code, o.stderr)
			}
			checkTarget(t, o, "0::/init")
		})
	}
}

func atois(t *testing.T, fields []string) []int {
	t.Helper()
	out := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid %q: %v", f, err)
		}
		out = append(out, n)
	}
	return out
}

func sameSet(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestDelegateFakeTree runs the script on a plain directory bind-mounted at
// /sys/fs/cgroup with fake mount/umount, to reach what this host's
// controller-less cgroup2 cannot: controllers to enable, a subtree_control
// that refuses (/dev/full: ENOSPC), a root that never empties, and every
// step failing. Expected text is identical under every shell.
func TestDelegateFakeTree(t *testing.T) {
	const remount = "umount -l /sys/fs/cgroup\nmount -t cgroup2 cgroup2 /sys/fs/cgroup\n"
	tests := []struct {
		name                string
		files               map[string]string // relative path -> content; "/" suffix: a directory
		full                bool
		umountRC, mountRC   int
		wantCode            int
		wantStderr, wantLog string
		wantSubtree         string // content of cgroup.subtree_control afterwards ("-": not checked)
	}{
		{
			name:        "enables_every_controller",
			files:       map[string]string{"cgroup.controllers": "cpu memory pids\n", "cgroup.procs": "", "cgroup.subtree_control": ""},
			wantLog:     remount,
			wantSubtree: "+cpu +memory +pids\n",
		},
		{
			name:     "root_never_empties_and_controllers_refuse",
			files:    map[string]string{"cgroup.controllers": "cpu memory\n", "cgroup.procs": "4242\n4343\n", "cgroup.subtree_control": ""},
			full:     true,
			wantCode: 1,
			wantStderr: "envbox-delegate: gave up after 2 attempts: processes keep entering /sys/fs/cgroup; pids still in /sys/fs/cgroup: 4242 4343; " +
				"controllers refusing: cpu (No space left on device), memory (No space left on device)\n",
			wantLog:     remount,
			wantSubtree: "-",
		},
		{
			name:     "empty_root_but_write_refused",
			files:    map[string]string{"cgroup.controllers": "cpu memory\n", "cgroup.procs": "", "cgroup.subtree_control": ""},
			full:     true,
			wantCode: 1,
			wantStderr: `envbox-delegate: gave up after 2 attempts: write "+cpu +memory" to /sys/fs/cgroup/cgroup.subtree_control: No space left on device; ` +
				"pids still in /sys/fs/cgroup: none; controllers refusing: cpu (No space left on device), memory (No space left on device)\n",
			wantLog:     remount,
			wantSubtree: "-",
		},
		{
			name:       "umount_fails",
			files:      map[string]string{"cgroup.controllers": "cpu\n"},
			umountRC:   32,
			wantCode:   1,
			wantStderr: "envbox-delegate: remount: umount -l /sys/fs/cgroup: Operation not permitted\n",
			wantLog:    "umount -l /sys/fs/cgroup\n",
		},
		{
			name:       "mount_fails",
			files:      map[string]string{"cgroup.controllers": "cpu\n"},
			mountRC:    32,
			wantCode:   1,
			wantStderr: "envbox-delegate: remount: mount -t cgroup2 cgroup2 /sys/fs/cgroup: permission denied.\n",
			wantLog:    remount,
		},
		{
			name:       "init_is_a_file",
			files:      map[string]string{"cgroup.controllers": "cpu\n", "init": ""},
			wantCode:   1,
			wantStderr: "envbox-delegate: mkdir -p /sys/fs/cgroup/init: File exists\n",
			wantLog:    remount,
		},
		{
			name:       "init_procs_unopenable",
			files:      map[string]string{"cgroup.controllers": "cpu\n", "init/cgroup.procs/": ""},
			wantCode:   1,
			wantStderr: "envbox-delegate: open /sys/fs/cgroup/init/cgroup.procs: Is a directory\n",
			wantLog:    remount,
		},
		{
			name:       "root_procs_missing",
			files:      map[string]string{"cgroup.controllers": "cpu\n"},
			wantCode:   1,
			wantStderr: "envbox-delegate: read /sys/fs/cgroup/cgroup.procs: No such file or directory\n",
			wantLog:    remount,
		},
	}
	for _, sh := range shells {
		if sh.name == "busybox" {
			// busybox sh runs its own mount/umount applets ahead of PATH, so
			// fake tools cannot stand in; the real-kernel tests cover busybox.
			continue
		}
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			for _, tt := range tests {
				fake, tools := fakeDir(t, tt.files), fakeTools(t, tt.umountRC, tt.mountRC)
				d := delegation{shell: sh.argv, bind: fake, full: tt.full, path: tools, env: []string{"ENVBOX_DELEGATE_ATTEMPTS=2"}}
				o := d.run(t, c)
				log, _ := os.ReadFile(filepath.Join(tools, "log"))
				if o.code != tt.wantCode || o.stderr != tt.wantStderr || string(log) != tt.wantLog {
					t.Errorf("%s: exit %d, stderr %q, tool calls %q; want exit %d, stderr %q, tool calls %q",
						tt.name, o.code, o.stderr, log, tt.wantCode, tt.wantStderr, tt.wantLog)
				}
				if (tt.wantCode == 0) != (o.out["argv"] != "") {
					t.Errorf("%s: target argv %q after exit %d", tt.name, o.out["argv"], o.code)
				}
				if tt.wantSubtree == "-" || tt.wantCode != 0 {
					continue
				}
				if got, _ := os.ReadFile(filepath.Join(fake, "cgroup.subtree_control")); string(got) != tt.wantSubtree {
					t.Errorf("%s: cgroup.subtree_control = %q, want %q", tt.name, got, tt.wantSubtree)
				}
			}
		})
	}
}

// fakeDir builds a fake /sys/fs/cgroup from relative path -> content; a
// path ending in "/" is a directory.
func fakeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if strings.HasSuffix(rel, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
