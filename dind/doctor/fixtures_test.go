package doctor

// Kernel text the tests feed doctor, with where each came from.

// vmMountinfo: /proc/self/mountinfo on the Debian kernel 6.1.0-56-amd64
// booted in qemu with cgroup_no_v1=all (integration/vm): pure cgroup v2.
// Inside a pod container after the delegation remount the cgroup2 line has
// the same shape: root "/" (mounted in the pod's own cgroup namespace).
const vmMountinfo = `1 1 0:2 / / rw - rootfs rootfs rw,size=229700k,nr_inodes=57425,inode64
21 1 0:19 / /proc rw,relatime - proc proc rw
22 1 0:20 / /sys rw,relatime - sysfs sysfs rw
23 22 0:21 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw
`

// vmControllers: /sys/fs/cgroup/cgroup.controllers in that VM; after the
// delegation script subtree_control reads the same list.
const vmControllers = "cpuset cpu io memory hugetlb pids rdma misc\n"

// nsMountinfo: /proc/self/mountinfo of a process in a test cgroup T of the
// development machine (hybrid: v1 controllers, controller-less cgroup2 at
// /sys/fs/cgroup/unified) with new cgroup and mount namespaces rooted at T
// and cgroup2 mounted over /sys/fs/cgroup (integration/pod.sh's model of a
// pod sharing the node's cgroup namespace). Trimmed to the cgroup lines.
const nsMountinfo = `43 42 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
45 43 0:21 / /proc rw,relatime - proc proc rw
46 43 0:22 / /sys rw,relatime - sysfs sysfs rw
47 46 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
48 47 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
51 47 0:32 /../.. /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
57 47 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
63 47 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw
`

// v1Mountinfo: the development machine's v1 hierarchies alone (a v1 host).
const v1Mountinfo = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`

// v1Cgroup: /proc/self/cgroup on that v1 host, trimmed to the mounted
// hierarchies.
const v1Cgroup = `4:memory:/process_api/e3d3300b6c8a9cc4d1a3899b434eed23
1:cpu:/
`

// Container IDs as dockerd prints them.
const (
	idWeb = "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
	idJob = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
)
