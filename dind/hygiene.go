package dind

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// RemoveStalePIDFiles deletes docker*.pid files (any case) below dirs, as
// docker:dind does: dockerd refuses to start while its pid file names a live
// process, and after an unclean stop the PID may belong to someone else.
func RemoveStalePIDFiles(fsys afero.Fs, dirs ...string) ([]string, error) {
	var removed []string
	for _, dir := range dirs {
		err := afero.Walk(fsys, dir, func(path string, info fs.FileInfo, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			name := strings.ToLower(info.Name())
			if info.Mode().IsRegular() && strings.HasPrefix(name, "docker") && strings.HasSuffix(name, ".pid") {
				if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("remove stale pid file %s: %w", path, err)
				}
				removed = append(removed, path)
			}
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("remove stale pid files in %s: %w", dir, err)
		}
	}
	return removed, nil
}

// Mounter is the part of the mount table envbox's container set-up needs.
type Mounter interface {
	IsMountPoint(path string) (bool, error)
	Mount(source, target, fstype string, flags uintptr, data string) error
}

// SetupMounts does what docker:dind's dind script does before dockerd:
// securityfs (AppArmor profiles) and a /tmp tmpfs when absent, then / made
// rshared so dockerd's mounts propagate to containers. It returns what it
// did, for the log.
func SetupMounts(m Mounter, fsys afero.Fs) ([]string, error) {
	var done []string
	for _, want := range []struct{ fstype, target string }{
		{"securityfs", "/sys/kernel/security"},
		{"tmpfs", "/tmp"},
	} {
		if ok, err := afero.DirExists(fsys, want.target); err != nil || !ok {
			continue
		}
		mounted, err := m.IsMountPoint(want.target)
		if err != nil {
			return done, err
		}
		if mounted {
			continue
		}
		if err := m.Mount("none", want.target, want.fstype, 0, ""); err != nil {
			return done, fmt.Errorf("mount -t %s none %s: %w", want.fstype, want.target, err)
		}
		done = append(done, "mounted "+want.fstype+" on "+want.target)
	}
	if err := m.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return done, fmt.Errorf("mount --make-rshared /: %w", err)
	}
	return append(done, "made / rshared"), nil
}

// IPTablesChoice is which iptables flavour dockerd should drive, and why.
type IPTablesChoice struct {
	Legacy bool
	Reason string
}

// legacyTables are the kernel's lists of legacy (x_tables) tables in use.
var legacyTables = []string{"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names", "/proc/net/arp_tables_names"}

// ChooseIPTables decides legacy vs nf_tables like docker:dind: an explicit
// DOCKER_IPTABLES_LEGACY wins (non-empty = legacy); existing legacy rules
// mean legacy; otherwise nft, unless iptables does not work and
// iptables-legacy does. works runs "<bin> -nL" and reports success.
func ChooseIPTables(fsys afero.Fs, override *string, works func(bin string) bool) IPTablesChoice {
	if override != nil {
		return IPTablesChoice{Legacy: *override != "", Reason: fmt.Sprintf("%s=%q", EnvIPTablesLegacy, *override)}
	}
	for _, f := range legacyTables {
		if data, err := afero.ReadFile(fsys, f); err == nil && len(strings.TrimSpace(string(data))) > 0 {
			return IPTablesChoice{Legacy: true, Reason: "legacy rules exist (" + f + ")"}
		}
	}
	if !works("iptables") && works("iptables-legacy") {
		return IPTablesChoice{Legacy: true, Reason: "iptables -nL fails, iptables-legacy -nL works"}
	}
	return IPTablesChoice{Reason: "no legacy rules; iptables works"}
}

// legacyTools are linked to their -legacy variants in the PATH dir.
var legacyTools = []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"}

// LegacyIPTablesDir fills dir with links iptables → iptables-legacy (and
// friends) so that prepending dir to dockerd's PATH selects legacy mode.
// lookPath resolves a binary name.
func LegacyIPTablesDir(fsys afero.Fs, dir string, lookPath func(string) (string, error)) error {
	linker, ok := fsys.(afero.Linker)
	if !ok {
		return fmt.Errorf("create %s: filesystem cannot make symlinks", dir)
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	for _, tool := range legacyTools {
		target, err := lookPath(tool + "-legacy")
		if err != nil {
			if tool == "iptables" {
				return fmt.Errorf("legacy iptables requested but %s-legacy not found: %w", tool, err)
			}
			continue
		}
		link := filepath.Join(dir, tool)
		if err := fsys.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", link, err)
		}
		if err := linker.SymlinkIfPossible(target, link); err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", link, target, err)
		}
	}
	return nil
}
