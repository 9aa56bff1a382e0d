// Command vmhelper runs inside the pure cgroup v2 VM (package vm builds it
// static, CGO_ENABLED=0, into the initramfs). It does what busybox cannot:
// enter a cgroup namespace, print the errno of a single write(2), allocate
// memory until the OOM killer comes, read the CPU quota with package xunix,
// and print a scenario's results as one JSON line.
//
//	vmhelper ns CMD [ARGS...]        new mount+cgroup namespace, / rprivate, exec CMD
//	vmhelper cgns CMD [ARGS...]      new cgroup namespace only (envbox's default wrapper), exec CMD
//	vmhelper limits                   xunix CPU quota and memory limit of "self", one line each
//	vmhelper write PATH DATA          one write(2); prints "ok" or the errno name (EBUSY)
//	vmhelper hog MIB                  allocate and touch MIB MiB, then print "survived"
//	vmhelper rt CMD [ARGS...]         SCHED_FIFO priority 10, exec CMD
//	vmhelper policy PID               print PID's scheduling policy (SCHED_FIFO)
//	vmhelper cpuquota DIR             xunix quota of "self", and of DIR with the root fallback
//	vmhelper report NAME DIR          print "RESULT NAME {file: content, ...}" for DIR's files
//	vmhelper mark                     write the wall clock into the kernel log (/dev/kmsg), print it
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/xunix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "vmhelper: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: vmhelper ns|cgns|limits|write|hog|rt|policy|cpuquota|report|mark ARGS")
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "ns" && len(rest) >= 1:
		return enterNamespaces(rest)
	case cmd == "cgns" && len(rest) >= 1:
		return enterCgroupNamespace(rest)
	case cmd == "limits" && len(rest) == 0:
		return limits()
	case cmd == "write" && len(rest) == 2:
		fmt.Println(writeOnce(rest[0], rest[1]))
		return nil
	case cmd == "hog" && len(rest) == 1:
		return hog(rest[0])
	case cmd == "rt" && len(rest) >= 1:
		return realtime(rest)
	case cmd == "policy" && len(rest) == 1:
		return policy(rest[0])
	case cmd == "cpuquota" && len(rest) == 1:
		return cpuQuota(rest[0])
	case cmd == "report" && len(rest) == 2:
		return report(rest[0], rest[1])
	case cmd == "mark" && len(rest) == 0:
		return mark()
	}
	return fmt.Errorf("bad arguments %q", args)
}

// enterNamespaces is `unshare --mount --propagation private --cgroup` then
// exec: the cgroup namespace root becomes the caller's current cgroup.
func enterNamespaces(argv []string) error {
	// Namespaces belong to the thread; exec keeps the calling thread's.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare mount+cgroup namespaces: %w", err)
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / rprivate: %w", err)
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %q: %w", argv, err)
	}
	return nil
}

// enterCgroupNamespace is `unshare --cgroup` then exec: the mount namespace
// stays shared with the caller, as in envbox's default (non-isolated) mode.
func enterCgroupNamespace(argv []string) error {
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %q: %w", argv, err)
	}
	return nil
}

// writeOnce does exactly one write(2) of data, so the errno printed is the
// kernel's answer to that write (busybox ash does not print it).
func writeOnce(path, data string) string {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "open:" + errnoName(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(data)); err != nil {
		return errnoName(err)
	}
	return "ok"
}

func errnoName(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

// hog allocates mib MiB one MiB at a time and writes every page, so the
// memory is charged to its cgroup.
func hog(mib string) error {
	n, err := strconv.Atoi(mib)
	if err != nil {
		return fmt.Errorf("parse MIB %q: %w", mib, err)
	}
	keep := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Printf("survived %d MiB\n", len(keep))
	return nil
}

// realtime execs argv as a SCHED_FIFO task: with CONFIG_RT_GROUP_SCHED such
// a task makes enabling cpu in its cgroup's parent fail with EINVAL.
func realtime(argv []string) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 10}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("sched_setattr SCHED_FIFO 10: %w", err)
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %q: %w", argv, err)
	}
	return nil
}

// mark writes "envbox-vm mark SECONDS.NANOS" (the wall clock) into the
// kernel log and prints it: the line's dmesg timestamp (the kernel's clock
// since boot) then converts the kernel's other lines to wall time.
func mark() error {
	now := time.Now()
	line := fmt.Sprintf("envbox-vm mark %d.%09d\n", now.Unix(), now.Nanosecond())
	if err := os.WriteFile("/dev/kmsg", []byte(line), 0); err != nil {
		return fmt.Errorf("write the mark to /dev/kmsg: %w", err)
	}
	fmt.Print(line)
	return nil
}

func policy(pid string) error {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return fmt.Errorf("parse PID %q: %w", pid, err)
	}
	attr, err := unix.SchedGetAttr(n, 0)
	if err != nil {
		return fmt.Errorf("sched_getattr %d: %w", n, err)
	}
	names := map[uint32]string{unix.SCHED_NORMAL: "SCHED_OTHER", unix.SCHED_FIFO: "SCHED_FIFO", unix.SCHED_RR: "SCHED_RR"}
	name, ok := names[attr.Policy]
	if !ok {
		name = strconv.FormatUint(uint64(attr.Policy), 10)
	}
	fmt.Printf("%s %d\n", name, attr.Priority)
	return nil
}

// cpuQuota prints what envbox's reader (package xunix) sees from inside the
// namespace: for the process itself, and for dir (a cgroup directory that
// may not exist, which takes the fallback to the remounted root).
func cpuQuota(dir string) error {
	fsys := afero.NewOsFs()
	self, err := xunix.ReadEffectiveCPUQuota(fsys, "self")
	fmt.Printf("self %s\n", quotaString(self, err))
	d, err := xunix.ReadCPUQuotaV2(fsys, dir)
	fmt.Printf("dir %s\n", quotaString(d, err))
	return nil
}

// limits prints what `envbox docker` reads for the workspace's default
// limits: the tightest CPU quota and memory limit from its own cgroup up to
// the namespace root (the pod).
func limits() error {
	fsys := afero.NewOsFs()
	q, err := xunix.ReadEffectiveCPUQuota(fsys, "self")
	fmt.Printf("cpu %s\n", quotaString(q, err))
	m, err := xunix.ReadEffectiveMemoryLimit(fsys, "self")
	if err != nil {
		fmt.Printf("memory error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return nil
	}
	fmt.Printf("memory bytes=%d unlimited=%t source=%s\n", m.Bytes, m.Unlimited, m.Source)
	return nil
}

func quotaString(q xunix.CPUQuota, err error) string {
	if err != nil {
		return "error " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return fmt.Sprintf("cpus=%g unlimited=%t source=%s", q.CPUs(), q.Unlimited, q.Source)
}

// report prints one console line for the host test: every regular file in
// dir becomes a key, its content (one trailing newline removed) the value.
func report(name, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read results dir %s: %w", dir, err)
	}
	out := map[string]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			out[e.Name()] = "read error: " + err.Error()
			continue
		}
		out[e.Name()] = strings.TrimSuffix(string(b), "\n")
	}
	js, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode results of %s: %w", name, err)
	}
	fmt.Printf("RESULT %s %s\n", name, js)
	return nil
}
