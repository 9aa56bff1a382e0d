// Package vm proves cgroup delegation on a pure cgroup v2 kernel: it boots a
// Debian kernel in qemu (TCG, no KVM needed) with an initramfs it builds and
// asserts in Go tests what the guest prints on the serial console.
//
// Three guests: the scenario guest (static busybox, the static vmhelper from
// ./helper, the delegation script of package embed and guest/init.sh) runs
// the script in many pod set-ups; the workspace guest adds the real envbox
// binary, the host's docker.io binaries with their libraries and the
// kernel's bridge, veth and overlay modules, and plays a node whose own
// dockerd runs `envbox docker` as a privileged pod (guest/workspace-init.sh);
// the headroom guest, the same node, runs `envbox dind` pods with memory
// and pids limits, with and without the reserve, and exhausts them
// (guest/headroom-init.sh).
//
// It owns fetching and caching the kernel (apt-get download + dpkg-deb, the
// uncompressed vmlinux cut out of the bzImage, the modules), building the
// initramfs, booting with a hard timeout and parsing the console. It never
// touches the host's cgroups: everything cgroup-related happens inside the
// VM. Nothing here ships in the envbox binary.
package vm
