package vm

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultCacheDir keeps the extracted kernel between runs (CI included).
const DefaultCacheDir = "/var/cache/envbox-test/vm"

// metaPackage is the Debian package whose dependency names the current
// kernel image package (linux-image-6.1.0-56-amd64 on bookworm).
const metaPackage = "linux-image-amd64"

// Kernel is a Debian kernel ready for `qemu -kernel`.
type Kernel struct {
	// Package is the image package, e.g. linux-image-6.1.0-56-amd64.
	Package string
	// Image is the uncompressed ELF vmlinux (booted through PVH: about 3 s
	// faster under TCG than the XZ bzImage), or the bzImage when its payload
	// is not XZ.
	Image string
	// Config is the package's /boot/config-* file.
	Config string
	// Modules holds GuestModules, each by its base name (bridge.ko).
	Modules string
}

// GuestModules are the modules a guest running dockerd loads, in load order
// (bridge needs stp, stp needs llc), as paths under lib/modules/<version>/
// kernel: Debian builds the bridge, veth and overlayfs as modules.
var GuestModules = []string{
	"net/llc/llc.ko", "net/802/stp.ko", "net/bridge/bridge.ko",
	"drivers/net/veth.ko", "fs/overlayfs/overlay.ko",
}

func newKernel(cacheDir, pkg string) Kernel {
	dir := filepath.Join(cacheDir, pkg)
	return Kernel{
		Package: pkg,
		Image:   filepath.Join(dir, "vmlinux"),
		Config:  filepath.Join(dir, "config"),
		Modules: filepath.Join(dir, "modules"),
	}
}

// complete is nil when every file of k is in the cache. Caches written
// before the modules were extracted are incomplete and fetched again.
func (k Kernel) complete() error {
	paths := []string{k.Image, k.Config}
	for _, m := range GuestModules {
		paths = append(paths, filepath.Join(k.Modules, filepath.Base(m)))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	return nil
}

// EnsureKernel returns the kernel that linux-image-amd64 depends on,
// downloading and extracting it into cacheDir/<package>/ the first time.
// Only apt-cache, apt-get, dpkg-deb and xz are used; the host's own /boot is
// not, so CI gets the same kernel on a machine that never installed it.
func EnsureKernel(ctx context.Context, cacheDir string) (Kernel, error) {
	pkg, err := cachedPackage(cacheDir)
	if err != nil {
		if pkg, err = kernelPackage(ctx); err != nil {
			return Kernel{}, err
		}
	}
	k := newKernel(cacheDir, pkg)
	if k.complete() == nil {
		return k, markCurrent(cacheDir, pkg)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("create kernel cache %s: %w", cacheDir, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, pkg+".tmp-")
	if err != nil {
		return Kernel{}, fmt.Errorf("create temp dir in %s: %w", cacheDir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := fetchKernel(ctx, pkg, tmp); err != nil {
		return Kernel{}, err
	}
	// Publish atomically; a concurrent run that won the race is as good.
	// An incomplete entry of an older layout is replaced.
	final := filepath.Join(cacheDir, pkg)
	if k.complete() != nil {
		if err := os.RemoveAll(final); err != nil {
			return Kernel{}, fmt.Errorf("remove incomplete kernel cache %s: %w", final, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if k.complete() != nil {
			return Kernel{}, fmt.Errorf("publish kernel %s: %w", pkg, err)
		}
	}
	return k, markCurrent(cacheDir, pkg)
}

// resolveTTL is how long the package name apt resolved is trusted: without
// a pkgcache.bin (Debian container images) every apt-cache call re-reads
// all package lists, 4 to 9 s on a loaded 2-core machine.
const resolveTTL = 24 * time.Hour

// cachedPackage is the package recorded in cacheDir/current by the last run
// within resolveTTL, if its kernel is still there.
func cachedPackage(cacheDir string) (string, error) {
	p := filepath.Join(cacheDir, "current")
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if age := time.Since(fi.ModTime()); age > resolveTTL {
		return "", fmt.Errorf("%s is %s old, more than %s", p, age, resolveTTL)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	pkg := strings.TrimSpace(string(b))
	return pkg, newKernel(cacheDir, pkg).complete()
}

func markCurrent(cacheDir, pkg string) error {
	p := filepath.Join(cacheDir, "current")
	if cur, err := cachedPackage(cacheDir); err == nil && cur == pkg {
		return nil
	}
	if err := os.WriteFile(p, []byte(pkg+"\n"), 0o644); err != nil {
		return fmt.Errorf("record current kernel package: %w", err)
	}
	return nil
}

// fetchKernel downloads pkg into dir and leaves dir/vmlinux, dir/config and
// dir/modules/*.ko.
func fetchKernel(ctx context.Context, pkg, dir string) error {
	if err := aptDownload(ctx, pkg, dir); err != nil {
		return err
	}
	debs, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil || len(debs) != 1 {
		return fmt.Errorf("find %s_*.deb in %s: got %q (%v)", pkg, dir, debs, err)
	}
	vmlinuz := filepath.Join(dir, "vmlinuz")
	want := map[string]string{"./boot/vmlinuz-": vmlinuz, "./boot/config-": filepath.Join(dir, "config")}
	modules := filepath.Join(dir, "modules")
	if err := os.Mkdir(modules, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", modules, err)
	}
	version := strings.TrimPrefix(pkg, "linux-image-")
	for _, m := range GuestModules {
		want["./lib/modules/"+version+"/kernel/"+m] = filepath.Join(modules, filepath.Base(m))
	}
	if err := extractFiles(ctx, debs[0], want); err != nil {
		return err
	}
	if err := os.Remove(debs[0]); err != nil {
		return fmt.Errorf("remove %s: %w", debs[0], err)
	}
	return writeVmlinux(ctx, vmlinuz, filepath.Join(dir, "vmlinux"))
}

// kernelPackage asks apt which image package the meta package depends on.
func kernelPackage(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", metaPackage).Output()
	if err == nil {
		if pkg, perr := parseDepends(string(out)); perr == nil {
			return pkg, nil
		}
	}
	// No package lists yet (a fresh machine): fetch them once.
	if uerr := aptUpdate(ctx); uerr != nil {
		return "", uerr
	}
	out, err = exec.CommandContext(ctx, "apt-cache", "depends", metaPackage).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w", metaPackage, err)
	}
	return parseDepends(string(out))
}

// parseDepends finds the image package in `apt-cache depends
// linux-image-amd64` output: the first "Depends: linux-image-..." line.
func parseDepends(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if ok && len(dep) > len("linux-image-") && strings.HasPrefix(dep, "linux-image-") && !strings.ContainsAny(dep, " <>/") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("parse apt-cache depends %s: no \"Depends: linux-image-*\" line in %q", metaPackage, out)
}

func aptUpdate(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get update: %w: %s", err, out)
	}
	return nil
}

func aptDownload(ctx context.Context, pkg, dir string) error {
	download := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "-qq", pkg)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	if _, err := download(); err == nil {
		return nil
	}
	// Stale lists name a version the mirror no longer has: refresh once.
	if err := aptUpdate(ctx); err != nil {
		return err
	}
	if out, err := download(); err != nil {
		return fmt.Errorf("apt-get download %s in %s: %w: %s", pkg, dir, err, out)
	}
	return nil
}

// extractFiles copies the regular file whose name starts with each prefix
// of want (a key) out of deb's data tarball to want's value. dpkg-deb is
// stopped as soon as all are out instead of decompressing the rest.
func extractFiles(ctx context.Context, deb string, want map[string]string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w", deb, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w", deb, err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	tr := tar.NewReader(stdout)
	for len(want) > 0 {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("read data tarball of %s (still missing %v): %w", deb, want, err)
		}
		for prefix, dst := range want {
			if strings.HasPrefix(h.Name, prefix) && h.Typeflag == tar.TypeReg {
				if err := writeFile(dst, tr); err != nil {
					return fmt.Errorf("extract %s from %s: %w", h.Name, deb, err)
				}
				delete(want, prefix)
			}
		}
	}
	return nil
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeVmlinux cuts the XZ payload out of the bzImage and decompresses it to
// an ELF vmlinux. A payload in another format keeps the bzImage (slower
// boot, same kernel).
func writeVmlinux(ctx context.Context, vmlinuz, vmlinux string) error {
	img, err := os.ReadFile(vmlinuz)
	if err != nil {
		return fmt.Errorf("read bzImage: %w", err)
	}
	payload, err := bzImagePayload(img)
	if err != nil {
		return fmt.Errorf("parse bzImage %s: %w", vmlinuz, err)
	}
	if !isXZ(payload) {
		return os.Rename(vmlinuz, vmlinux)
	}
	cmd := exec.CommandContext(ctx, "xz", "-dc", "--single-stream")
	cmd.Stdin = bytes.NewReader(payload)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("xz -dc the payload of %s: %w", vmlinuz, err)
	}
	if !bytes.HasPrefix(out, []byte("\x7fELF")) {
		return fmt.Errorf("decompressed payload of %s is not ELF: starts %q", vmlinuz, out[:min(16, len(out))])
	}
	if err := os.WriteFile(vmlinux, out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", vmlinux, err)
	}
	return os.Remove(vmlinuz)
}
