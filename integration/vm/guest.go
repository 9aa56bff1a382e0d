package vm

import _ "embed"

// InitScript is the guest's /init: it runs every scenario and prints
// `RESULT <scenario> <json>` lines, then DONE, then powers off.
//
//go:embed guest/init.sh
var InitScript string

// TargetScript is /bin/target, exec'd by the delegation script in place of
// dockerd; it records what it sees inside the new namespaces.
//
//go:embed guest/target.sh
var TargetScript string

// EnvboxSimScript is /bin/envbox-sim: a stand-in for envbox as PID 1 of a
// pod's container, for the default-mode scenario.
//
//go:embed guest/envbox-sim.sh
var EnvboxSimScript string

// GuestLib is /lib/guest.sh, sourced by the pod VMs' /init scripts
// (workspace, headroom, run): the machine's start-up and the result,
// step and wait helpers they share.
//
//go:embed guest/lib.sh
var GuestLib string

// WorkspaceInitScript is /init of the workspace VM: a node whose dockerd
// runs `envbox docker` as a privileged pod with CPU and memory limits.
//
//go:embed guest/workspace-init.sh
var WorkspaceInitScript string

// RunInitScript is /init of the `envbox run` VM: a pod whose PID 1 is
// `envbox run -- containerd`, then `ctr run` of a busybox rootfs.
//
//go:embed guest/run-init.sh
var RunInitScript string

// HeadroomInitScript is /init of the headroom VM: a node whose dockerd runs
// `envbox dind` as a privileged pod with memory and pids limits, with and
// without the headroom reserve, and workloads that exhaust them.
//
//go:embed guest/headroom-init.sh
var HeadroomInitScript string
