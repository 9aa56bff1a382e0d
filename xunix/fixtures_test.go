package xunix

// Verbatim kernel text used by the tables and as fuzz seeds. Each constant
// says where it was copied from.

// hybridCgroup: /proc/self/cgroup of a shell on the development machine
// (Debian bookworm userland, kernel 6.18, v1 controllers plus a
// controller-less cgroup2 at /sys/fs/cgroup/unified). The v2 line is last.
const hybridCgroup = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/81cedb9f105fa229595f3f11417ccf13
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`

// hybridMountinfo: /proc/self/mountinfo of the same shell.
const hybridMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 27 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// nsCgroup: /proc/self/cgroup of a child started on the development machine
// inside a test cgroup (/sys/fs/cgroup/unified/envbox-test-<rand>) with new
// cgroup and mount namespaces, cgroup2 mounted over /sys/fs/cgroup, after
// it moved itself to the namespace's "init" child cgroup (the delegation
// layout). The v1 lines are namespace-relative too.
const nsCgroup = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/init
`

// nsOutsideCgroup: /proc/1/cgroup read by that same child: the host's PID 1
// lives outside the child's cgroup namespace, so its paths climb with "..".
const nsOutsideCgroup = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/../..
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/..
`

// nsMountinfo: /proc/self/mountinfo of that child. Mounts made outside its
// cgroup namespace show roots climbing with ".." (51, 57); the cgroup2 mount
// 63 over /sys/fs/cgroup hides the tmpfs and every v1 hierarchy below it.
const nsMountinfo = `43 42 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
44 43 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
45 43 0:21 / /proc rw,relatime - proc proc rw
46 43 0:22 / /sys rw,relatime - sysfs sysfs rw
47 46 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
48 47 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
49 47 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
50 47 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
51 47 0:32 /../.. /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
52 47 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
53 47 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
54 47 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
55 47 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
56 47 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
57 47 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
58 43 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
59 58 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
60 59 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
61 58 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
62 61 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
63 47 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw
`

// v2Cgroup and v2Mountinfo: a pure cgroup v2 system, the Debian kernel
// 6.1.0-56-amd64 booted in qemu with cgroup_no_v1=all and a busybox init
// that mounted cgroup2 at /sys/fs/cgroup, created kubepods/pod1/ctr with
// cpu and memory enabled down to it and moved itself there.
const v2Cgroup = `0::/kubepods/pod1/ctr
`

const v2Mountinfo = `1 1 0:2 / / rw - rootfs rootfs rw,size=229700k,nr_inodes=57425,inode64
21 1 0:19 / /proc rw,relatime - proc proc rw
22 1 0:20 / /sys rw,relatime - sysfs sysfs rw
23 22 0:21 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw
`

// Limit files read on that VM (v2) and on the development machine (v1).
const (
	v2CPUMaxDefault    = "max 100000\n"   // kubepods/pod1/ctr/cpu.max, untouched
	v2CPUMaxHalf       = "50000 100000\n" // after writing "50000 100000"
	v2MemoryMaxDefault = "max\n"          // memory.max, untouched
	v2MemoryMax32M     = "33554432\n"     // after writing "32M"
	v1CFSQuotaDefault  = "-1\n"           // /sys/fs/cgroup/cpu/cpu.cfs_quota_us
	v1CFSPeriodDefault = "100000\n"       // /sys/fs/cgroup/cpu/cpu.cfs_period_us
	v1MemoryUnlimited  = "9223372036854771712\n"
)

// ID maps: the initial namespace (development machine and VM), `unshare -Ur`
// (root mapped to the caller) and `unshare -U` before any map is written.
const (
	uidMapInitial  = "         0          0 4294967295\n"
	uidMapRootOnly = "         0          0          1\n"
	uidMapEmpty    = ""
)

// escapedMountinfo: two lines of /proc/self/mountinfo on the development
// machine after, in a private mount namespace, mounting a tmpfs with source
// "my src" on "/tmp/x cap", making it shared and bind-mounting it on
// "/tmp/x cap/back\slash": octal escapes and an optional field.
const escapedMountinfo = `112 79 0:49 / /tmp/x\040cap rw,relatime shared:3 - tmpfs my\040src rw
113 112 0:49 / /tmp/x\040cap/back\134slash rw,relatime shared:3 - tmpfs my\040src rw
`
