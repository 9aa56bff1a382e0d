// Package adopt owns the Docker API front of `envbox adopt-proxy`: a unix
// socket proxy placed before dockerd's real socket that makes every
// container inherit the cgroup of the process that asked for it.
//
// It is closed by construction: routes.go lists every POST and PUT route of
// dockerd that the proxy models, and anything else (another route, another
// method, a path dockerd would not route as written) is refused with one
// line naming the route and why. Of the modelled routes, POST
// /containers/create gets an empty HostConfig.CgroupParent set to the
// caller's cgroup, in the form dockerd's cgroup driver expects, and a
// different one refused unless overrides are allowed; POST /build's
// cgroupparent parameter gets the same policy and a form body is refused;
// a container start may carry no configuration (API < 1.24 would apply it)
// and an update no CgroupParent; BuildKit, swarm services and managed
// plugins, which start containers the proxy cannot place, are refused.
// Everything else, hijacked and upgraded streams included, passes byte for
// byte, after heads parsed at least as strictly as dockerd's net/http.
//
// The caller is identified by SO_PEERCRED at accept, and SO_PEERPIDFD where
// the kernel has it, which pins the process until its /proc/<pid>/cgroup is
// read. It fails closed: a peer it cannot attribute gets an error, never an
// unadopted container. Connections are bounded in number and time, and a
// broken request closes both sides.
//
// It never starts processes, never listens on TCP and never writes to a
// cgroup: dockerd does the placing.
package adopt
