package doctor

import (
	"context"
	"io/fs"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestDescendantsParentCycle: /proc is read one process at a time, so a
// pid reused while it is read can make two processes each other's parent
// (10's parent 20 exits, its pid goes to a child of 10). descendants must
// still end, listing each process once.
func TestDescendantsParentCycle(t *testing.T) {
	t.Parallel()
	children := map[int][]int{1: {10}, 10: {20}, 20: {10, 30}}
	done := make(chan []int, 1)
	go func() { done <- descendants(children, 1) }()
	select {
	case got := <-done:
		if want := []int{10, 20, 30}; !reflect.DeepEqual(got, want) {
			t.Errorf("descendants = %v, want %v", got, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("descendants still running after 2s on a parent cycle 10 -> 20 -> 10")
	}
}

// deniedDirFs refuses to open the directory dir for listing, as cgroupfs
// does for a cgroup whose owner removed read permission.
type deniedDirFs struct {
	afero.Fs
	dir string
}

func (f deniedDirFs) Open(name string) (afero.File, error) {
	if name == f.dir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return f.Fs.Open(name)
}

// TestCgroupsUnlistableDir: a cgroup whose directory cannot be listed is
// reported once, by its path in the pod's namespace (not /sys/fs/cgroup/...),
// with its processes and the error; the walk goes on.
func TestCgroupsUnlistableDir(t *testing.T) {
	t.Parallel()
	c := runPod().checker(t, "1")
	c.Fs = deniedDirFs{Fs: c.Fs, dir: "/sys/fs/cgroup/default"}
	r, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	host := "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope"
	want := []Cgroup{
		{Path: "/", HostPath: host, CgroupID: 1, Processes: []Process{}},
		{Path: "/default", HostPath: host + "/default", CgroupID: 7600, Processes: []Process{},
			Error: "open /sys/fs/cgroup/default: permission denied"},
		{Path: "/init", HostPath: host + "/init", CgroupID: 7412,
			Processes: []Process{{PID: 1, Comm: "envbox"}, {PID: 57, Comm: "containerd"}, {PID: 80, Comm: "containerd-shim"}}},
	}
	if !reflect.DeepEqual(r.Cgroups, want) {
		t.Errorf("cgroups:\n%+v\nwant:\n%+v", r.Cgroups, want)
	}
}
