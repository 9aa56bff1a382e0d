package vm

import (
	"testing"
)

func TestParseDepends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantErr string
	}{
		{
			// `apt-cache depends linux-image-amd64` on Debian bookworm.
			name: "bookworm",
			in:   "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n",
			want: "linux-image-6.1.0-56-amd64",
		},
		{
			// A metapackage in transition lists alternatives and virtuals.
			name: "alternatives",
			in:   "linux-image-amd64\n |Depends: <linux-image-6.1.0-55-amd64>\n  Depends: linux-image-6.1.0-56-amd64\n  Recommends: firmware-linux-free\n",
			want: "linux-image-6.1.0-56-amd64",
		},
		{
			name:    "no_lists",
			in:      "",
			wantErr: `parse apt-cache depends linux-image-amd64: no "Depends: linux-image-*" line in ""`,
		},
		{
			name:    "virtual_only",
			in:      "linux-image-amd64\n  Depends: <linux-image-6.1.0-55-amd64>\n",
			wantErr: `parse apt-cache depends linux-image-amd64: no "Depends: linux-image-*" line in "linux-image-amd64\n  Depends: <linux-image-6.1.0-55-amd64>\n"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDepends(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDepends(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseDepends(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseDepends(f *testing.F) {
	f.Add("linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n")
	f.Add("linux-image-amd64\n  Depends: <linux-image-6.1.0-55-amd64>\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseDepends(in)
		if err == nil && (len(got) <= len("linux-image-") || got[:len("linux-image-")] != "linux-image-") {
			t.Errorf("parseDepends(%q) = %q, not a linux-image-* package", in, got)
		}
	})
}

func TestBootArgs(t *testing.T) {
	t.Parallel()
	b := Boot{Kernel: "/c/vmlinux", Initramfs: "/t/initramfs.cpio", MemMiB: 512, CPUs: 1}
	want := []string{
		"-accel", "tcg", "-m", "512", "-smp", "1",
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", "/c/vmlinux", "-initrd", "/t/initramfs.cpio",
		"-append", "console=ttyS0 quiet panic=-1 cgroup_no_v1=all no_timer_check",
	}
	got := b.Args()
	if len(got) != len(want) {
		t.Fatalf("Args() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Args() = %q, want %q", got, want)
		}
	}
}
