package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Guest is what goes into the initramfs.
type Guest struct {
	// Busybox is a static busybox binary (Debian busybox-static: /bin/busybox).
	Busybox string
	// Helper is the static vmhelper binary (./helper, CGO_ENABLED=0).
	Helper string
	// Init is /init, the guest's scenario script.
	Init string
	// Files are staged at their Path, from a host file or a text.
	Files []File
	// Programs are dynamically linked host programs (/bin/dash,
	// /usr/sbin/dockerd) staged at their host paths with their libraries.
	Programs []string
}

// File is one initramfs entry: the content of the host file From, or Text.
type File struct {
	Path, From, Text string
	Mode             fs.FileMode
	// Static refuses a From that is dynamically linked: the guest has no
	// libraries for it, and exec would fail with a bare ENOENT.
	Static bool
}

// BuildInitramfs stages g in dir/root and packs it with `cpio -o -H newc`
// into dir/initramfs.cpio, uncompressed: decompressing under TCG costs more
// than loading a few more MiB.
func BuildInitramfs(dir string, g Guest) (string, error) {
	files := append([]File{
		{Path: "bin/busybox", From: g.Busybox, Mode: 0o755, Static: true},
		{Path: "bin/vmhelper", From: g.Helper, Mode: 0o755, Static: true},
		{Path: "init", Text: g.Init, Mode: 0o755},
	}, g.Files...)
	root := filepath.Join(dir, "root")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, f := range files {
		if f.Static {
			if err := checkStatic(f.From); err != nil {
				return "", err
			}
		}
		dst := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
		}
		if err := stage(dst, f.From, f.Text, f.Mode); err != nil {
			return "", err
		}
	}
	if err := stagePrograms(root, g.Programs); err != nil {
		return "", err
	}
	// /init's "#!/bin/sh" needs sh before busybox --install runs.
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil {
		return "", fmt.Errorf("link bin/sh: %w", err)
	}
	out := filepath.Join(dir, "initramfs.cpio")
	return out, packCpio(root, out)
}

func stage(dst, from, text string, mode fs.FileMode) error {
	data := []byte(text)
	if from != "" {
		var err error
		if data, err = os.ReadFile(from); err != nil {
			return fmt.Errorf("stage %s: %w", dst, err)
		}
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("stage %s: %w", dst, err)
	}
	return nil
}

// stagePrograms copies each program and its libraries (symlinks followed)
// to their host paths under root.
func stagePrograms(root string, programs []string) error {
	for _, prog := range programs {
		libs, err := sharedLibs(prog)
		if err != nil {
			return err
		}
		for _, p := range append([]string{prog}, libs...) {
			dst := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
			}
			if err := stage(dst, p, "", 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// libDirs is where Debian amd64 keeps shared libraries.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"}

// sharedLibs lists the ELF interpreter and every shared library path needs,
// transitively, as host paths: what `ldd` prints, without running it.
func sharedLibs(path string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(p string) error {
		f, err := elf.Open(p)
		if err != nil {
			return fmt.Errorf("open ELF %s: %w", p, err)
		}
		defer f.Close()
		deps, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("read DT_NEEDED of %s: %w", p, err)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				b := make([]byte, prog.Filesz)
				if _, err := prog.ReadAt(b, 0); err != nil {
					return fmt.Errorf("read PT_INTERP of %s: %w", p, err)
				}
				deps = append(deps, strings.TrimRight(string(b), "\x00"))
			}
		}
		for _, d := range deps {
			full, err := findLib(d)
			if err != nil {
				return fmt.Errorf("library of %s: %w", p, err)
			}
			if seen[full] {
				continue
			}
			seen[full] = true
			out = append(out, full)
			if err := visit(full); err != nil {
				return err
			}
		}
		return nil
	}
	return out, visit(path)
}

func findLib(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %v", name, libDirs)
}

// checkStatic refuses a dynamically linked binary: the initramfs has no
// libraries, and the kernel would fail the exec with a bare ENOENT.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("open ELF %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (has PT_INTERP); the initramfs needs a static binary", path)
		}
	}
	return nil
}

// packCpio writes every entry under root, root-relative, as a newc archive.
func packCpio(root, out string) error {
	var names []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		names = append(names, rel)
		return err
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", root, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer f.Close()
	var stderr bytes.Buffer
	cmd := exec.Command("cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0")
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = root, strings.NewReader(strings.Join(names, "\n")+"\n"), f, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cpio -o -H newc in %s: %w: %s", root, err, stderr.String())
	}
	return f.Close()
}
