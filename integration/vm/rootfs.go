package vm

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
)

// imageApplets are the busybox applets the workspace image links: what
// envbox docker runs in it (true, sleep, the bootstrap's sh, mkdir, mktemp)
// and what the test's bootstrap script uses (id, cat).
var imageApplets = []string{"sh", "true", "sleep", "mkdir", "mktemp", "id", "cat"}

// imagePasswd has the workspace user the test starts envbox docker with.
const imagePasswd = "root:x:0:0:root:/root:/bin/sh\ncoder:x:1000:1000:coder:/home/coder:/bin/sh\n"

// WriteWorkspaceImage writes a root filesystem tarball for `docker import`:
// static busybox with its applets, root and coder users, /tmp. A few MiB,
// where a Debian minbase image would add 120 MiB to the initramfs.
func WriteWorkspaceImage(path, busybox string) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("read busybox for the workspace image: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create workspace image %s: %w", path, err)
	}
	defer f.Close()
	if err := writeImage(f, bb); err != nil {
		return fmt.Errorf("write workspace image %s: %w", path, err)
	}
	return f.Close()
}

func writeImage(w io.Writer, busybox []byte) error {
	content := map[string][]byte{
		"bin/busybox": busybox,
		"etc/passwd":  []byte(imagePasswd),
		"etc/group":   []byte("root:x:0:\ncoder:x:1000:\n"),
	}
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "root/", Mode: 0o700},
		{Typeflag: tar.TypeDir, Name: "home/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "home/coder/", Mode: 0o755, Uid: 1000, Gid: 1000},
		{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777},
		{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644},
		{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644},
	}
	for _, a := range imageApplets {
		hdrs = append(hdrs, &tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777})
	}
	tw := tar.NewWriter(w)
	for _, h := range hdrs {
		h.Size = int64(len(content[h.Name]))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(content[h.Name]); err != nil {
			return err
		}
	}
	return tw.Close()
}
