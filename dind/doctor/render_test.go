package doctor

import (
	"context"
	"strings"
	"testing"
)

// wantNoDockerJSON is the complete JSON for delegatedPod without a dockerd
// socket.
const wantNoDockerJSON = `{
  "cgroup_mode": "v2",
  "cgroup_version": 2,
  "cgroup2_mount": "/sys/fs/cgroup",
  "cgroupns_root": "/",
  "host_cgroup_root": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope",
  "host_cgroup_root_source": "--host-cgroup-root",
  "pod_cgroup": "/",
  "delegation": {
    "delegated": true,
    "dir": "/sys/fs/cgroup",
    "init_present": true,
    "controllers": [
      "cpuset",
      "cpu",
      "io",
      "memory",
      "hugetlb",
      "pids",
      "rdma",
      "misc"
    ],
    "subtree_control": [
      "cpuset",
      "cpu",
      "io",
      "memory",
      "hugetlb",
      "pids",
      "rdma",
      "misc"
    ],
    "not_enabled": []
  },
  "limits": {
    "cpu": {
      "value": "0.5",
      "source": "/sys/fs/cgroup/cpu.max"
    },
    "memory": {
      "value": "33554432",
      "source": "/sys/fs/cgroup/memory.max"
    }
  },
  "reserve": {
    "parent": "/sys/fs/cgroup/docker",
    "present": true,
    "pod_memory_max": "33554432",
    "parent_memory_max": "16777216",
    "pod_pids_max": "256",
    "parent_pids_max": "128",
    "container_pids_max": {
      "96": 1,
      "max": 1
    }
  },
  "docker": "unix:///var/run/docker.sock",
  "docker_note": "no socket /var/run/docker.sock (dockerd not running)",
  "subjects": [
    {
      "kind": "envbox",
      "name": "envbox",
      "pid": 1,
      "cgroup": "/init",
      "host_cgroup": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/init",
      "cgroup_id": 7412,
      "attributed": true
    }
  ],
  "cgroups": [
    {
      "path": "/",
      "host_path": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope",
      "cgroup_id": 1,
      "processes": []
    },
    {
      "path": "/docker",
      "host_path": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker",
      "cgroup_id": 7501,
      "processes": []
    },
    {
      "path": "/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
      "host_path": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
      "cgroup_id": 7530,
      "processes": [
        {
          "pid": 4242,
          "comm": "nginx"
        }
      ]
    },
    {
      "path": "/docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
      "host_path": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
      "cgroup_id": 7561,
      "processes": [
        {
          "pid": 4300,
          "comm": "sh"
        }
      ]
    },
    {
      "path": "/init",
      "host_path": "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/init",
      "cgroup_id": 7412,
      "processes": [
        {
          "pid": 1,
          "comm": "envbox"
        },
        {
          "pid": 57,
          "comm": "dockerd"
        }
      ]
    }
  ],
  "outside_pod": [],
  "offenders": [],
  "advice": [
    "Tetragon: run with --enable-cgidmap and --enable-cgtrackerid; cgroups created under the pod (<pod>/docker/<id>) inherit its tracker ID and map to the pod, cgroups beside it never do",
    "Falco: container.id is the innermost container's; take the pod's identity from the cgroup path (proc.cgroups), which starts with the pod's cgroup"
  ]
}
`

// wantEscapedJSON is the complete JSON for escapedPod.
const wantEscapedJSON = `{
  "cgroup_mode": "v2",
  "cgroup_version": 2,
  "cgroup2_mount": "/sys/fs/cgroup",
  "cgroupns_root": "/",
  "host_cgroup_root": "/",
  "host_cgroup_root_source": "mountinfo",
  "pod_cgroup": "/pod",
  "delegation": {
    "delegated": false,
    "dir": "/sys/fs/cgroup/pod",
    "init_present": false,
    "controllers": [],
    "subtree_control": [],
    "not_enabled": []
  },
  "limits": {
    "cpu": {
      "error": "no cpu.max in /sys/fs/cgroup/pod or its 1 ancestors: file does not exist"
    },
    "memory": {
      "error": "no memory.max in /sys/fs/cgroup/pod or its 1 ancestors: file does not exist"
    }
  },
  "reserve": {
    "parent": "/sys/fs/cgroup/pod/docker",
    "present": false
  },
  "docker": "unix:///var/run/docker.sock",
  "subjects": [
    {
      "kind": "envbox",
      "name": "envbox",
      "pid": 77,
      "cgroup": "/pod",
      "host_cgroup": "/pod",
      "cgroup_id": 1207,
      "attributed": true
    },
    {
      "kind": "container",
      "name": "web",
      "id": "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
      "pid": 4242,
      "cgroup": "/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
      "host_cgroup": "/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
      "cgroup_id": 1290,
      "attributed": false,
      "problem": "cgroup /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a is not below the pod cgroup /pod"
    }
  ],
  "cgroups": [
    {
      "path": "/pod",
      "host_path": "/pod",
      "cgroup_id": 1207,
      "processes": [
        {
          "pid": 77,
          "comm": "dockerd"
        }
      ]
    }
  ],
  "outside_pod": [],
  "offenders": [
    "container web (3f1c2b9a8d7e, pid 4242): cgroup /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a is not below the pod cgroup /pod"
  ]
}
`

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	noDocker := delegatedPod()
	noDocker.docker = nil
	tests := []struct {
		name string
		sc   scenario
		pid  string
		want string
	}{
		{name: "delegated_no_dockerd", sc: noDocker, pid: "1", want: wantNoDockerJSON},
		{name: "escaped_container", sc: escapedPod(), pid: "77", want: wantEscapedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tt.sc.checker(t, tt.pid).Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var b strings.Builder
			if err := WriteJSON(&b, r); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteJSON:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestWriteHumanV1: on a v1 host only the mode, dockerd and the verdict
// are printed.
func TestWriteHumanV1(t *testing.T) {
	t.Parallel()
	r := Report{Mode: "v1", Version: 1, Docker: "unix:///var/run/docker.sock", DockerNote: "no socket /var/run/docker.sock (dockerd not running)",
		Offenders: []string{"no cgroup2 mount shows the pod cgroup / (mode v1): attribution needs cgroup v2"}}
	want := `cgroup mode:    v1 (no cgroup2 mount shows the pod: attribution cannot be checked)
docker:         unix:///var/run/docker.sock: no socket /var/run/docker.sock (dockerd not running)

KIND  NAME  PID  CGROUP  HOST CGROUP  CGROUP ID  ATTRIBUTED

result: 1 not attributed:
  - no cgroup2 mount shows the pod cgroup / (mode v1): attribution needs cgroup v2
`
	var b strings.Builder
	if err := WriteHuman(&b, r); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("WriteHuman:\n%s\nwant:\n%s", b.String(), want)
	}
}
