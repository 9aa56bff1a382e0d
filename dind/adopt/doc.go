// Package adopt owns the Docker API front of `envbox adopt-proxy`: a unix
// socket proxy placed before dockerd's real socket that makes every
// container inherit the cgroup of the process that asked for it.
//
// For each accepted connection it reads the peer's credentials once
// (SO_PEERCRED, plus SO_PEERPIDFD to rule out pid reuse where the kernel has
// it) and the peer's /proc/<pid>/cgroup. On POST /containers/create it sets
// an empty HostConfig.CgroupParent to that cgroup, in the form dockerd's
// cgroup driver expects, and refuses a different one unless overrides are
// allowed; POST /build's cgroupparent parameter gets the same policy. Every
// other byte, including hijacked and upgraded streams, passes through
// unchanged. It fails closed: a peer it cannot attribute gets an
// error, never an unadopted container.
//
// It never starts processes, never listens on TCP and never writes to a
// cgroup: dockerd does the placing.
package adopt
