package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// header builds a bzImage of size bytes with the given setup_sects,
// payload_offset and payload_length, and the XZ magic at the payload.
func header(size int, setupSects byte, payloadOffset, payloadLength uint32, magic string) []byte {
	img := make([]byte, size)
	img[0x1f1] = setupSects
	copy(img[0x202:], magic)
	binary.LittleEndian.PutUint32(img[0x248:], payloadOffset)
	binary.LittleEndian.PutUint32(img[0x24c:], payloadLength)
	return img
}

func TestBzImagePayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		img       []byte
		wantStart int
		wantLen   int
		wantErr   string
	}{
		// (1+1)*512 + 0x10 = 1040.
		{name: "one_setup_sector", img: header(2048, 1, 0x10, 6, "HdrS"), wantStart: 1040, wantLen: 6},
		// setup_sects 0 means 4: (4+1)*512 = 2560.
		{name: "zero_means_four", img: header(4096, 0, 0, 100, "HdrS"), wantStart: 2560, wantLen: 100},
		{name: "short", img: make([]byte, 0x100), wantErr: "256 bytes, shorter than the 0x250-byte setup header: no x86 boot protocol header (HdrS at 0x202)"},
		{name: "no_magic", img: header(2048, 1, 0, 6, "MZ\x00\x00"), wantErr: `magic "MZ\x00\x00": no x86 boot protocol header (HdrS at 0x202)`},
		{name: "past_end", img: header(2048, 1, 0x400, 0x400, "HdrS"), wantErr: "payload [2048, 3072) past the end of the 2048-byte image"},
		{name: "length_overflow", img: header(2048, 1, 0xffffffff, 0xffffffff, "HdrS"), wantErr: "payload [4294968319, 8589935614) past the end of the 2048-byte image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := bzImagePayload(tt.img)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("bzImagePayload() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("bzImagePayload(): %v", err)
			}
			if !bytes.Equal(got, tt.img[tt.wantStart:tt.wantStart+tt.wantLen]) || len(got) != tt.wantLen {
				t.Errorf("bzImagePayload() = %d bytes, want %d bytes at %d", len(got), tt.wantLen, tt.wantStart)
			}
		})
	}
	if _, err := bzImagePayload(nil); !errors.Is(err, errNotBzImage) {
		t.Errorf("bzImagePayload(nil) error = %v, want errNotBzImage", err)
	}
}

// TestBzImagePayloadDebian checks the parser on the real Debian bookworm
// bzImage 6.1.0-56 (6.1.192-2) when this machine has it in /boot.
func TestBzImagePayloadDebian(t *testing.T) {
	t.Parallel()
	const path = "/boot/vmlinuz-6.1.0-56-amd64"
	img, err := os.ReadFile(path)
	if err != nil || len(img) != 8247232 {
		t.Skipf("%s (8247232 bytes) not on this machine: %v", path, err)
	}
	got, err := bzImagePayload(img)
	if err != nil {
		t.Fatal(err)
	}
	// setup_sects 39, payload_offset 716: (39+1)*512 + 716 = 21196.
	if !bytes.Equal(got, img[21196:21196+8122480]) || !isXZ(got) {
		t.Errorf("bzImagePayload(%s) = %d bytes starting %q, want 8122480 XZ bytes at 21196", path, len(got), got[:min(6, len(got))])
	}
}

func FuzzBzImagePayload(f *testing.F) {
	f.Add(header(2048, 1, 0x10, 6, "HdrS"))
	f.Add(header(4096, 0, 0, 100, "HdrS"))
	f.Add(header(2048, 1, 0xffffffff, 0xffffffff, "HdrS"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, img []byte) {
		got, err := bzImagePayload(img)
		if err == nil && len(got) > len(img) {
			t.Errorf("bzImagePayload(%d bytes) = %d bytes", len(img), len(got))
		}
	})
}
