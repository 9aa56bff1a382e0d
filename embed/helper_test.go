package embed_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/embed"
)

// The test binary doubles as the two programs a delegation run needs. They
// only ever run inside a cgtest child (own cgroup, cgroup and mount
// namespaces, /sys/fs/cgroup proven to be the test cgroup):
//
//   - the launcher (env helperEnv=launch) fills the cgroup root with
//     processes, then runs `unshare --cgroup -- SHELL -c SCRIPT SELF
//     targetArg targetArgs...`, then kills and reaps what it started and
//     exits with the script's status;
//   - the target (argv[1] == targetArg) is what the script execs: it prints
//     its pid, argv, oom_score_adj, the v2 line of /proc/self/cgroup and the
//     time since the launcher started the script.
const (
	helperEnv   = "EMBED_TEST_HELPER"   // "launch" selects the launcher
	shellEnv    = "EMBED_TEST_SHELL"    // shell argv, space separated: "busybox sh"
	scriptEnv   = "EMBED_TEST_SCRIPT"   // "classic" runs classicScript instead
	sleepsEnv   = "EMBED_TEST_SLEEPS"   // processes to leave in the root
	blockersEnv = "EMBED_TEST_BLOCKERS" // processes that keep re-entering the root
	bindEnv     = "EMBED_TEST_BIND"     // dir to bind-mount on /sys/fs/cgroup (fake tree)
	fullEnv     = "EMBED_TEST_FULL"     // "1": bind /dev/full on the fake cgroup.subtree_control
	pathEnv     = "EMBED_TEST_PATH"     // dir to put first in the script's PATH (fake tools)
	holdEnv     = "EMBED_TEST_HOLD"     // "1": the target waits for EOF on stdin
	busyEnv     = "EMBED_TEST_BUSY"     // "1": the launcher holds cpu.max-like fd open
	startEnv    = "EMBED_TEST_T0"       // CLOCK_MONOTONIC ns when the script was started

	targetArg = "envbox-test-target"
)

// targetArgs are passed through the script; they must arrive byte for byte.
var targetArgs = []string{"--flag=a b", "", `it's "quoted" $HOME * \n`}

// classicScript is the moby hack/dind delegation, with the same remount the
// envbox script does, run by the benchmark in the same harness.
const classicScript = `cg=/sys/fs/cgroup
umount "$cg" && mount -t cgroup2 cgroup2 "$cg" || exit 1
mkdir -p "$cg/init"
xargs -rn1 < "$cg/cgroup.procs" > "$cg/init/cgroup.procs" || :
sed -e 's/ / +/g' -e 's/^/+/' < "$cg/cgroup.controllers" > "$cg/cgroup.subtree_control"
exec "$0" "$@"
`

// helperMain runs the launcher or the target and returns true with the
// exit code when this process is one of them.
func helperMain() (int, bool) {
	if len(os.Args) > 1 && os.Args[1] == targetArg {
		return target(), true
	}
	if os.Getenv(helperEnv) == "launch" {
		code, err := launch()
		if err != nil {
			fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
			return 120, true
		}
		return code, true
	}
	return 0, false
}

func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func target() int {
	elapsed := monotonic()
	if t0, err := strconv.ParseInt(os.Getenv(startEnv), 10, 64); err == nil {
		elapsed -= t0
	}
	argv, _ := json.Marshal(os.Args[1:])
	cg, err := os.ReadFile("/proc/self/cgroup")
	line := "unreadable: " + fmt.Sprint(err)
	for _, l := range strings.Split(string(cg), "\n") {
		if strings.HasPrefix(l, "0::") {
			line = l
		}
	}
	oom, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		oom = []byte("unreadable: " + err.Error())
	}
	// cgroup last: the harness reads up to it.
	fmt.Printf("pid %d\nelapsed_ns %d\nargv %s\noom_score_adj %s\ncgroup %s\n", os.Getpid(), elapsed, argv, strings.TrimSpace(string(oom)), line)
	if os.Getenv(holdEnv) == "1" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return 0
}

func launch() (int, error) {
	if err := insideGuard(); err != nil {
		return 0, err
	}
	if err := fakeTree(); err != nil {
		return 0, err
	}
	if os.Getenv(busyEnv) == "1" {
		// What the Go runtime (1.25+) of envbox does with cpu.max: a file
		// of the container's cgroup2 mount open for the process lifetime.
		f, err := os.Open("/sys/fs/cgroup/cgroup.controllers")
		if err != nil {
			return 0, err
		}
		defer f.Close()
	}
	var started []*exec.Cmd
	defer func() {
		for _, c := range started {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	sleeps, err := startN(os.Getenv(sleepsEnv), func(*exec.Cmd) {}, "sleep", "1000")
	started = append(started, sleeps...)
	if err != nil {
		return 0, err
	}
	blockers, err := startBlockers()
	started = append(started, blockers...)
	if err != nil {
		return 0, err
	}
	if err := settle(sleeps); err != nil {
		return 0, err
	}
	fmt.Printf("sleeps %s\nblockers %s\n", pidList(sleeps), pidList(blockers))
	return runScript()
}

// insideGuard refuses to run anywhere but a cgtest child: mount and cgroup
// namespaces other than its parent's (the test), cgroup2 at /sys/fs/cgroup. Defense in depth for a
// launcher started by hand: it mounts over /sys/fs/cgroup and runs the
// script.
func insideGuard() error {
	for _, ns := range []string{"mnt", "cgroup"} {
		self, err1 := os.Readlink("/proc/self/ns/" + ns)
		parent, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", os.Getppid(), ns))
		if err1 != nil || err2 != nil || self == parent {
			return fmt.Errorf("refusing to run: %s namespace %q is the parent's %q (%v, %v)", ns, self, parent, err1, err2)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("refusing to run: /sys/fs/cgroup is not cgroup2 (magic %#x, %v)", st.Type, err)
	}
	return nil
}

// fakeTree replaces /sys/fs/cgroup (in this private mount namespace only)
// with a plain directory the test prepared.
func fakeTree() error {
	dir := os.Getenv(bindEnv)
	if dir == "" {
		return nil
	}
	if err := unix.Mount(dir, "/sys/fs/cgroup", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on /sys/fs/cgroup: %w", dir, err)
	}
	if os.Getenv(fullEnv) != "1" {
		return nil
	}
	const sc = "/sys/fs/cgroup/cgroup.subtree_control"
	if err := unix.Mount("/dev/full", sc, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/full on %s: %w", sc, err)
	}
	return nil
}

// startBlockers starts processes that write themselves into the test
// cgroup's root as fast as they can, through fd 3: the test opened it on the
// host's mount, so it neither keeps the script's umount busy nor ever
// resolves /sys/fs/cgroup while that path is the host's tmpfs (between the
// script's umount and mount).
func startBlockers() ([]*exec.Cmd, error) {
	count := os.Getenv(blockersEnv)
	if count == "" || count == "0" {
		return nil, nil
	}
	unix.CloseOnExec(3) // only the blockers get it, not the script
	procs := os.NewFile(3, "test cgroup.procs")
	return startN(count, func(c *exec.Cmd) { c.ExtraFiles = []*os.File{procs} },
		"/bin/sh", "-c", `while :; do echo $$ >&3; done`)
}

// settle waits until every sleep is asleep (state S): a thousand freshly
// exec'd processes still loading their libraries would compete with the
// script for the CPU and blur what is measured.
func settle(sleeps []*exec.Cmd) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range sleeps {
		for !asleep(c.Process.Pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("sleep %d not asleep after 30s", c.Process.Pid)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// asleep reads the state field of /proc/PID/stat ("PID (comm) S ...").
func asleep(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'S'
}

// startN starts count copies of name args; it returns those started even
// on error, so the caller can stop them.
func startN(count string, setup func(*exec.Cmd), name string, args ...string) ([]*exec.Cmd, error) {
	n := 0
	if count != "" {
		var err error
		if n, err = strconv.Atoi(count); err != nil {
			return nil, fmt.Errorf("parse count %q: %w", count, err)
		}
	}
	cmds := make([]*exec.Cmd, 0, n)
	for range n {
		c := exec.Command(name, args...)
		setup(c)
		if err := c.Start(); err != nil {
			return cmds, fmt.Errorf("start %s: %w", name, err)
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

func pidList(cmds []*exec.Cmd) string {
	pids := make([]string, 0, len(cmds))
	for _, c := range cmds {
		pids = append(pids, strconv.Itoa(c.Process.Pid))
	}
	return strings.Join(pids, " ")
}

func runScript() (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	script := embed.DelegateScript
	if os.Getenv(scriptEnv) == "classic" {
		script = classicScript
	}
	argv := append([]string{"--cgroup", "--"}, strings.Fields(os.Getenv(shellEnv))...)
	argv = append(argv, "-c", script, self, targetArg)
	argv = append(argv, targetArgs...)
	cmd := exec.Command("unshare", argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if dir := os.Getenv(pathEnv); dir != "" {
		cmd.Env = append(cmd.Env, "PATH="+dir+":"+os.Getenv("PATH"))
	}
	cmd.Env = append(cmd.Env, startEnv+"="+strconv.FormatInt(monotonic(), 10))
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	fmt.Printf("script %d\n", cmd.Process.Pid)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Exited() {
		return ws.ExitStatus(), nil
	}
	return 0, err
}
