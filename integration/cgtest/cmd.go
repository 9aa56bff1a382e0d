package cgtest

import (
	"context"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// GuardExit is the exit status of a child whose guard refused to run the
// payload (see Command).
const GuardExit = 125

// guard runs as `sh -c guard cgtest-guard INODE PAYLOAD...` in the fresh
// mount and cgroup namespaces. It proves the child sits in the test cgroup
// before the payload may touch /sys/fs/cgroup: the new cgroup2 mount's root
// has the test cgroup's inode (cgroup ID) and /proc/self/cgroup reads "0::/".
const guard = `fail() { echo "cgtest guard: $*" >&2; exit 125; }
mount --make-rprivate / || fail "mount --make-rprivate / failed"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount -t cgroup2 cgroup2 /sys/fs/cgroup failed"
ino=$(stat -c %i /sys/fs/cgroup) || fail "stat /sys/fs/cgroup failed"
[ "$ino" = "$1" ] || fail "/sys/fs/cgroup root inode $ino, want test cgroup inode $1"
cg=''
while read -r line; do
	case $line in 0::*) cg=${line#0::} ;; esac
done </proc/self/cgroup
[ "$cg" = / ] || fail "/proc/self/cgroup v2 path \"$cg\", want \"/\""
shift
exec "$@"
`

// Command returns a command that runs name with args inside the test
// cgroup, in new mount and cgroup namespaces, with /sys/fs/cgroup a private
// cgroup2 mount whose root is the test cgroup (see the package doc). The
// caller may set Env, Dir, Stdin, Stdout, Stderr and more SysProcAttr
// fields, but must keep Cloneflags, UseCgroupFD and CgroupFD. The cgroup
// must outlive Start.
func (c *Cgroup) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{"-c", guard, "cgtest-guard", strconv.FormatUint(c.ino, 10), name}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP,
		UseCgroupFD: true,
		CgroupFD:    int(c.dir.Fd()),
	}
	return cmd
}
