package embed_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// fakeHook writes a hook that records its argv (one per line), the v2 line
// of its /proc/self/cgroup and the pids in the namespace root while it
// runs, then exits with rc.
func fakeHook(t *testing.T, rc string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "envbox"), filepath.Join(dir, "log")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do printf 'arg %s\\n' \"$a\"; done >>" + log + "\n" +
		"grep '^0::' /proc/self/cgroup | sed 's/^/cgroup /' >>" + log + "\n" +
		"printf 'root_procs %s\\n' \"$(cat /sys/fs/cgroup/cgroup.procs)\" >>" + log + "\n" +
		"exit " + rc + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

// TestDelegateHook: with ENVBOX_DELEGATE_HOOK set the script runs
// "HOOK delegate-hook -- BIN ARGS..." after the delegation (the hook is in
// /init, the root is empty), then sets ENVBOX_OOM_SCORE_ADJ and execs BIN
// unchanged. A failing hook is a warning, and BIN still starts.
func TestDelegateHook(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			for _, rc := range []string{"0", "3"} {
				c := cgtest.New(t)
				hook, log := fakeHook(t, rc)
				d := delegation{shell: sh.argv, sleeps: 3,
					env: []string{"ENVBOX_DELEGATE_HOOK=" + hook, "ENVBOX_OOM_SCORE_ADJ=123"}}
				o := d.run(t, c)
				wantStderr := ""
				if rc != "0" {
					wantStderr = "envbox-delegate: warning: " + hook + " delegate-hook exited 3; starting " + targetSelf(t) + " without it\n"
				}
				if o.code != 0 || o.stderr != wantStderr {
					t.Fatalf("hook rc %s: exit %d, stderr %q; want 0 and %q", rc, o.code, o.stderr, wantStderr)
				}
				checkTarget(t, o, "0::/init")
				if o.out["oom_score_adj"] != "123" {
					t.Errorf("target oom_score_adj %q, want 123", o.out["oom_score_adj"])
				}
				b, err := os.ReadFile(log)
				if err != nil {
					t.Fatalf("hook did not run: %v", err)
				}
				var argv []string
				var rest []string
				for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					if a, ok := strings.CutPrefix(l, "arg "); ok {
						argv = append(argv, a)
					} else {
						rest = append(rest, l)
					}
				}
				want := append([]string{"delegate-hook", "--", targetSelf(t)}, wantArgv()...)
				// The third target arg holds "\n": the recorder split it.
				got, _ := json.Marshal(argv)
				wantJSON, _ := json.Marshal(slices.Concat(want[:len(want)-1], []string{`it's "quoted" $HOME * \n`}))
				if string(got) != string(wantJSON) {
					t.Errorf("hook argv %s, want %s", got, wantJSON)
				}
				if !slices.Equal(rest, []string{"cgroup 0::/init", "root_procs "}) {
					t.Errorf("hook saw %q, want it in /init with the root empty", rest)
				}
			}
		})
	}
}

// targetSelf is the script's $0 in the harness: the test binary.
func targetSelf(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// TestDelegateOOMScoreAdj: a bad ENVBOX_OOM_SCORE_ADJ is a usage error
// before anything happens; a value the kernel refuses (lowering needs
// CAP_SYS_RESOURCE, which this host's bounding set lacks) is a warning and
// the target keeps the inherited score.
func TestDelegateOOMScoreAdj(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			needShell(t, sh.argv)
			c := cgtest.New(t)
			for _, v := range []string{"-1001", "1001", "01", "-0", "x", " 5", "--5", "5-"} {
				o := delegation{shell: sh.argv, env: []string{"ENVBOX_OOM_SCORE_ADJ=" + v}}.run(t, c)
				want := `envbox-delegate: ENVBOX_OOM_SCORE_ADJ="` + v + `": want a whole number from -1000 to 1000` + "\n"
				if o.code != 2 || o.stderr != want || o.out["argv"] != "" {
					t.Errorf("ENVBOX_OOM_SCORE_ADJ=%q: exit %d, stderr %q, target %q; want 2, %q, no target", v, o.code, o.stderr, o.out["argv"], want)
				}
			}
			if _, err := os.Stat(filepath.Join(c.Path, "init")); !os.IsNotExist(err) {
				t.Errorf("host %s/init: %v, want not created", c.Path, err)
			}
			for _, v := range []string{"-1000", "1000", "0", "-7", "999"} {
				c := cgtest.New(t)
				o := delegation{shell: sh.argv, env: []string{"ENVBOX_OOM_SCORE_ADJ=" + v}}.run(t, c)
				if o.code != 0 {
					t.Fatalf("ENVBOX_OOM_SCORE_ADJ=%s: exit %d, stderr %q", v, o.code, o.stderr)
				}
				got := o.out["oom_score_adj"]
				switch {
				case got == v && o.stderr == "":
				case got == "0" && strings.HasPrefix(o.stderr, "envbox-delegate: warning: write "+v+" to /proc/self/oom_score_adj: ") &&
					strings.HasSuffix(o.stderr, "; "+targetSelf(t)+" keeps 0\n") && strings.Count(o.stderr, "\n") == 1:
					t.Logf("ENVBOX_OOM_SCORE_ADJ=%s refused here: %q", v, o.stderr)
				default:
					t.Errorf("ENVBOX_OOM_SCORE_ADJ=%s: target oom_score_adj %q, stderr %q", v, got, o.stderr)
				}
			}
		})
	}
}
