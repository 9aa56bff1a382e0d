package doctor

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

// scenario is one machine state: files, inodes and dockerd's answers.
type scenario struct {
	files    map[string]string
	inodes   map[string]uint64
	docker   *fakeDocker
	hostRoot string
}

// checker builds the Checker for sc with envbox at pid.
func (sc scenario) checker(t *testing.T, pid string) *Checker {
	t.Helper()
	c := &Checker{Fs: memFs(t, sc.files), Inode: fakeInodes(sc.inodes), DockerHost: "unix:///var/run/docker.sock",
		PID: pid, HostRoot: sc.hostRoot}
	if sc.docker != nil {
		c.Docker = sc.docker
	} else {
		c.DockerNote = "no socket /var/run/docker.sock (dockerd not running)"
	}
	return c
}

// delegatedPod: a pod container on a pure v2 node after `envbox docker`:
// envbox moved to /init, cpu and memory limited at the pod, two containers
// at /docker/<id>, the host path of the pod given with --host-cgroup-root.
func delegatedPod() scenario {
	return scenario{
		files: map[string]string{
			"/proc/self/mountinfo":                  vmMountinfo,
			"/proc/1/cgroup":                        "0::/init\n",
			"/proc/4242/cgroup":                     "0::/docker/" + idWeb + "\n",
			"/proc/4300/cgroup":                     "0::/docker/" + idJob + "\n",
			"/sys/fs/cgroup/cgroup.controllers":     vmControllers,
			"/sys/fs/cgroup/cgroup.subtree_control": vmControllers,
			"/sys/fs/cgroup/cpu.max":                "50000 100000\n",
			"/sys/fs/cgroup/memory.max":             "33554432\n",
			"/sys/fs/cgroup/pids.max":               "256\n",
			"/sys/fs/cgroup/init/":                  "",
			// The default reserve of envbox's delegation hook.
			"/sys/fs/cgroup/docker/memory.max": "16777216\n",
			"/sys/fs/cgroup/docker/pids.max":   "128\n",
		},
		inodes: map[string]uint64{
			"/sys/fs/cgroup/init":            7412,
			"/sys/fs/cgroup/docker/" + idWeb: 7530,
			"/sys/fs/cgroup/docker/" + idJob: 7561,
		},
		docker: &fakeDocker{
			list: []container.Summary{{ID: idWeb, Names: []string{"/web"}}, {ID: idJob, Names: []string{"/job"}}},
			pids: map[string]int{idWeb: 4242, idJob: 4300},
		},
		hostRoot: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope",
	}
}

// escapedPod: integration/pod.sh's pod on the hybrid development machine
// with dockerd started directly (no envbox): dockerd at /pod, its container
// created beside the pod at /docker/<id>; the host root from mountinfo.
func escapedPod() scenario {
	return scenario{
		files: map[string]string{
			"/proc/self/mountinfo":                      nsMountinfo,
			"/proc/77/cgroup":                           "1:cpu:/\n0::/pod\n",
			"/proc/4242/cgroup":                         "1:cpu:/docker/" + idWeb + "\n0::/docker/" + idWeb + "\n",
			"/sys/fs/cgroup/pod/cgroup.controllers":     "",
			"/sys/fs/cgroup/pod/cgroup.subtree_control": "",
		},
		inodes: map[string]uint64{
			"/sys/fs/cgroup/pod":             1207,
			"/sys/fs/cgroup/docker/" + idWeb: 1290,
		},
		docker: &fakeDocker{
			list: []container.Summary{{ID: idWeb, Names: []string{"/web"}}},
			pids: map[string]int{idWeb: 4242},
		},
	}
}
