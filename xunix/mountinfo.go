package xunix

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// Mount is one line of /proc/<pid>/mountinfo (proc(5)), with the octal
// escapes (\040 for space, \011, \012, \134) decoded.
type Mount struct {
	ID, ParentID int
	Major, Minor uint32
	// Root is the directory of the filesystem that is mounted. For cgroup
	// mounts it is a cgroup path relative to the reader's cgroup namespace
	// root, "/.." when the mount was made in an outer namespace.
	Root       string
	MountPoint string
	Options    string
	// Optional are the tagged fields before "-" ("shared:1", "master:3").
	Optional     []string
	FSType       string
	Source       string
	SuperOptions string
}

// ParseMountinfoFile reads and parses a /proc/<pid>/mountinfo file.
func ParseMountinfoFile(fsys afero.Fs, path string) ([]Mount, error) {
	return parseFile(fsys, path, parseMountinfo)
}

func parseMountinfo(r io.Reader) ([]Mount, error) {
	return parseLines(r, parseMountinfoLine)
}

// parseMountinfoLine parses
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func parseMountinfoLine(line string) (Mount, error) {
	fields := strings.Split(line, " ")
	sep := slices.Index(fields, "-")
	if sep < 6 || len(fields)-sep != 4 {
		return Mount{}, errors.New("want 6 fields, optional fields, \"-\", fstype, source, super options")
	}
	var m Mount
	var err error
	if m.ID, err = atoiField("mount ID", fields[0]); err != nil {
		return Mount{}, err
	}
	if m.ParentID, err = atoiField("parent ID", fields[1]); err != nil {
		return Mount{}, err
	}
	if m.Major, m.Minor, err = parseMajorMinor(fields[2]); err != nil {
		return Mount{}, err
	}
	if sep > 6 {
		m.Optional = slices.Clone(fields[6:sep])
	}
	m.Options = fields[5]
	m.FSType = fields[sep+1]
	m.SuperOptions = fields[sep+3]
	if m.Options == "" || m.FSType == "" {
		return Mount{}, errors.New("empty mount options or filesystem type")
	}
	return m, unescapeFields(fields, sep, &m)
}

func unescapeFields(fields []string, sep int, m *Mount) error {
	var err error
	if m.Root, err = unescapeOctal(fields[3]); err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if m.MountPoint, err = unescapeOctal(fields[4]); err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if m.Source, err = unescapeOctal(fields[sep+2]); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	// Root need not be a path: a bind-mounted namespace file (nsfs, e.g.
	// dockerd's exec-root/netns/<id>) has root "net:[4026532187]".
	if !strings.HasPrefix(m.MountPoint, "/") {
		return fmt.Errorf("root %q or mount point %q is not absolute", m.Root, m.MountPoint)
	}
	return nil
}

func atoiField(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || s != strconv.Itoa(n) {
		return 0, fmt.Errorf("%s %q is not a non-negative integer", name, s)
	}
	return n, nil
}

func parseMajorMinor(s string) (uint32, uint32, error) {
	maj, min, ok := strings.Cut(s, ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("device %q is not major:minor", s)
	}
	return uint32(ma), uint32(mi), nil
}

// unescapeOctal decodes the kernel's mangling of mountinfo fields: space,
// tab, newline and backslash are written as a backslash and three octal
// digits.
func unescapeOctal(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q in %q", s[i:i+4], s)
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}
