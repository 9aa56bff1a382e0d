package vm

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestWriteImage lists the workspace image as `tar -tv` would.
func TestWriteImage(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := writeImage(&buf, []byte("BUSYBOX")); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%c %o %d:%d %s %s %q", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Name, h.Linkname, body))
	}
	want := []string{
		`5 755 0:0 bin/  ""`,
		`5 755 0:0 etc/  ""`,
		`5 700 0:0 root/  ""`,
		`5 755 0:0 home/  ""`,
		`5 755 1000:1000 home/coder/  ""`,
		`5 1777 0:0 tmp/  ""`,
		`0 755 0:0 bin/busybox  "BUSYBOX"`,
		`0 644 0:0 etc/passwd  "root:x:0:0:root:/root:/bin/sh\ncoder:x:1000:1000:coder:/home/coder:/bin/sh\n"`,
		`0 644 0:0 etc/group  "root:x:0:\ncoder:x:1000:\n"`,
		`2 777 0:0 bin/sh busybox ""`,
		`2 777 0:0 bin/true busybox ""`,
		`2 777 0:0 bin/sleep busybox ""`,
		`2 777 0:0 bin/mkdir busybox ""`,
		`2 777 0:0 bin/mktemp busybox ""`,
		`2 777 0:0 bin/id busybox ""`,
		`2 777 0:0 bin/cat busybox ""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("image entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
