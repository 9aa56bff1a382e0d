// Package vm proves cgroup delegation on a pure cgroup v2 kernel: it boots a
// Debian kernel in qemu (TCG, no KVM needed) with an initramfs it builds
// (static busybox, the static vmhelper from ./helper, the delegation script
// of package embed and the scenario scripts in ./guest), reads the results
// the guest prints on the serial console and asserts them in Go tests.
//
// It owns fetching and caching the kernel (apt-get download + dpkg-deb, the
// uncompressed vmlinux cut out of the bzImage), building the initramfs,
// booting with a hard timeout and parsing the console. It never touches the
// host's cgroups: everything cgroup-related happens inside the VM. Nothing
// here ships in the envbox binary.
package vm
