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
			"/proc/self/mountinfo":                             vmMountinfo,
			"/proc/1/cgroup":                                   "0::/init\n",
			"/proc/4242/cgroup":                                "0::/docker/" + idWeb + "\n",
			"/proc/4300/cgroup":                                "0::/docker/" + idJob + "\n",
			"/sys/fs/cgroup/cgroup.controllers":                vmControllers,
			"/sys/fs/cgroup/cgroup.subtree_control":            vmControllers,
			"/sys/fs/cgroup/cpu.max":                           "50000 100000\n",
			"/sys/fs/cgroup/memory.max":                        "33554432\n",
			"/sys/fs/cgroup/cgroup.procs":                      "",
			"/sys/fs/cgroup/init/cgroup.procs":                 "1\n57\n",
			"/sys/fs/cgroup/docker/cgroup.procs":               "",
			"/sys/fs/cgroup/docker/" + idJob + "/cgroup.procs": "4300\n",
			"/sys/fs/cgroup/docker/" + idWeb + "/cgroup.procs": "4242\n",
			"/proc/1/comm":                                     "envbox\n",
			"/proc/57/comm":                                    "dockerd\n",
			"/proc/4242/comm":                                  "nginx\n",
			"/proc/4300/comm":                                  "sh\n",
			"/proc/1/stat":                                     statEnvbox,
			"/proc/57/stat":                                    "57 (dockerd) S 1 57 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 12 0 200 0 0\n",
			"/proc/57/cgroup":                                  "0::/init\n",
			"/proc/4242/stat":                                  "4242 (nginx) S 57 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n",
			"/proc/4300/stat":                                  "4300 (sh) S 57 4300 4300 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 310 0 0\n",
			"/sys/fs/cgroup/pids.max":                          "256\n",
			// The default reserve of envbox's delegation hook.
			"/sys/fs/cgroup/docker/memory.max": "16777216\n",
			"/sys/fs/cgroup/docker/pids.max":   "128\n",
			// envbox dind's per-container cap, and a container started
			// before it (no cap: max).
			"/sys/fs/cgroup/docker/" + idWeb + "/pids.max": "96\n",
			"/sys/fs/cgroup/docker/" + idJob + "/pids.max": "max\n",
		},
		inodes: map[string]uint64{
			"/sys/fs/cgroup":                 1,
			"/sys/fs/cgroup/docker":          7501,
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
			"/sys/fs/cgroup/pod/cgroup.procs":           "77\n",
			"/proc/77/comm":                             "dockerd\n",
			"/proc/77/stat":                             "77 (dockerd) S 0 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 12 0 200 0 0\n",
			"/proc/4242/comm":                           "nginx\n",
			"/proc/4242/stat":                           "4242 (nginx) S 4230 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n",
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

// statEnvbox: /proc/1/stat of envbox as a pod's init (fields after the
// start time trimmed).
const statEnvbox = "1 (envbox) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 8 0 100 0 0\n"

// runPod: `envbox run -- containerd` as the pod's init on a pure v2 node,
// no dockerd: containerd (57) and its shim (80, reparented to envbox) in
// /init, the task (120, the shim's child) at /default/web as containerd
// creates it in its default namespace.
func runPod() scenario {
	return scenario{
		files: map[string]string{
			"/proc/self/mountinfo":                    vmMountinfo,
			"/proc/1/cgroup":                          "0::/init\n",
			"/proc/57/cgroup":                         "0::/init\n",
			"/proc/80/cgroup":                         "0::/init\n",
			"/proc/120/cgroup":                        "0::/default/web\n",
			"/proc/1/stat":                            statEnvbox,
			"/proc/57/stat":                           "57 (containerd) S 1 57 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 12 0 200 0 0\n",
			"/proc/80/stat":                           "80 (containerd-shim) S 1 80 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 12 0 250 0 0\n",
			"/proc/120/stat":                          "120 (sh) S 80 120 120 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n",
			"/proc/1/comm":                            "envbox\n",
			"/proc/57/comm":                           "containerd\n",
			"/proc/80/comm":                           "containerd-shim\n",
			"/proc/120/comm":                          "sh\n",
			"/sys/fs/cgroup/cgroup.controllers":       vmControllers,
			"/sys/fs/cgroup/cgroup.subtree_control":   vmControllers,
			"/sys/fs/cgroup/cpu.max":                  "50000 100000\n",
			"/sys/fs/cgroup/memory.max":               "33554432\n",
			"/sys/fs/cgroup/cgroup.procs":             "",
			"/sys/fs/cgroup/init/cgroup.procs":        "1\n57\n80\n",
			"/sys/fs/cgroup/default/cgroup.procs":     "",
			"/sys/fs/cgroup/default/web/cgroup.procs": "120\n",
		},
		inodes: map[string]uint64{
			"/sys/fs/cgroup":             1,
			"/sys/fs/cgroup/init":        7412,
			"/sys/fs/cgroup/default":     7600,
			"/sys/fs/cgroup/default/web": 7601,
		},
		hostRoot: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope",
	}
}
