package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

func TestCheckStatic(t *testing.T) {
	t.Parallel()
	// Debian's dash is dynamically linked; busybox-static's busybox is not.
	if err := checkStatic("/bin/dash"); err == nil || err.Error() != "/bin/dash is dynamically linked (has PT_INTERP); the initramfs needs a static binary" {
		t.Errorf("checkStatic(/bin/dash) = %v, want the dynamically linked error", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		cgtest.Unavailable(t, "no /bin/busybox (busybox-static; integration/deps.sh installs it): %v", err)
	}
	if err := checkStatic("/bin/busybox"); err != nil {
		t.Errorf("checkStatic(/bin/busybox) = %v, want nil", err)
	}
}

// TestBuildInitramfs packs a guest and lists it back with cpio -t.
func TestBuildInitramfs(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cpio"); err != nil {
		cgtest.Unavailable(t, "cpio is not installed (integration/deps.sh installs it): %v", err)
	}
	if checkStatic("/bin/busybox") != nil {
		cgtest.Unavailable(t, "no static /bin/busybox (busybox-static; integration/deps.sh installs it)")
	}
	dir := t.TempDir()
	out, err := BuildInitramfs(dir, Guest{
		Busybox: "/bin/busybox", Helper: "/bin/busybox", Init: "#!/bin/sh\n",
		Files: []File{
			{Path: "bin/target", Text: "#!/bin/sh\n", Mode: 0o755},
			{Path: "usr/local/bin/envbox", From: "/bin/busybox", Mode: 0o755, Static: true},
			{Path: "delegate.sh", Text: "# script\n", Mode: 0o644},
		},
		Programs: []string{"/bin/dash"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = BuildInitramfs(t.TempDir(), Guest{
		Busybox: "/bin/busybox", Helper: "/bin/busybox",
		Files: []File{{Path: "usr/local/bin/envbox", From: "/bin/dash", Static: true}},
	})
	if want := "/bin/dash is dynamically linked (has PT_INTERP); the initramfs needs a static binary"; err == nil || err.Error() != want {
		t.Errorf("BuildInitramfs(dynamic /bin/dash marked Static) error = %v, want %q", err, want)
	}
	if out != filepath.Join(dir, "initramfs.cpio") {
		t.Errorf("BuildInitramfs() = %q, want %q", out, filepath.Join(dir, "initramfs.cpio"))
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = f
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t %s: %v", out, err)
	}
	want := ".\nbin\nbin/busybox\nbin/dash\nbin/sh\nbin/target\nbin/vmhelper\ndelegate.sh\ndev\ninit\n" +
		"lib\nlib/x86_64-linux-gnu\nlib/x86_64-linux-gnu/ld-linux-x86-64.so.2\nlib/x86_64-linux-gnu/libc.so.6\n" +
		"lib64\nlib64/ld-linux-x86-64.so.2\nproc\nsys\ntmp\nusr\nusr/local\nusr/local/bin\nusr/local/bin/envbox\n"
	if string(got) != want {
		t.Errorf("cpio -t %s = %q, want %q", out, got, want)
	}
}

// TestSharedLibs resolves what Debian bookworm's dash needs, as ldd does:
// libc, and the interpreter both by libc's DT_NEEDED name and by dash's
// PT_INTERP path.
func TestSharedLibs(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/dash"); err != nil {
		cgtest.Unavailable(t, "no /bin/dash (integration/deps.sh installs it): %v", err)
	}
	got, err := sharedLibs("/bin/dash")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/lib64/ld-linux-x86-64.so.2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sharedLibs(/bin/dash) = %q, want %q", got, want)
	}
	if _, err := sharedLibs("/nonexistent"); err == nil || err.Error() != "open ELF /nonexistent: open /nonexistent: no such file or directory" {
		t.Errorf("sharedLibs(/nonexistent) error = %v", err)
	}
}
