package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Offsets in the x86 boot protocol setup header (Documentation/arch/x86/boot.rst).
const (
	offSetupSects    = 0x1f1
	offHeaderMagic   = 0x202
	offPayloadOffset = 0x248
	offPayloadLength = 0x24c
	minBootProtocol  = 0x250
)

// errNotBzImage is returned for a file without the "HdrS" setup header.
var errNotBzImage = errors.New("no x86 boot protocol header (HdrS at 0x202)")

var xzMagic = []byte("\xfd7zXZ\x00")

// bzImagePayload returns the compressed kernel inside a bzImage: it starts
// payload_offset bytes into the protected-mode code, which follows the
// (setup_sects+1) 512-byte sectors of real-mode setup (setup_sects 0 means 4).
func bzImagePayload(img []byte) ([]byte, error) {
	if len(img) < minBootProtocol {
		return nil, fmt.Errorf("%d bytes, shorter than the 0x%x-byte setup header: %w", len(img), minBootProtocol, errNotBzImage)
	}
	if !bytes.Equal(img[offHeaderMagic:offHeaderMagic+4], []byte("HdrS")) {
		return nil, fmt.Errorf("magic %q: %w", img[offHeaderMagic:offHeaderMagic+4], errNotBzImage)
	}
	sects := int(img[offSetupSects])
	if sects == 0 {
		sects = 4
	}
	off := uint64(sects+1)*512 + uint64(binary.LittleEndian.Uint32(img[offPayloadOffset:]))
	n := uint64(binary.LittleEndian.Uint32(img[offPayloadLength:]))
	if off+n > uint64(len(img)) {
		return nil, fmt.Errorf("payload [%d, %d) past the end of the %d-byte image", off, off+n, len(img))
	}
	return img[off : off+n], nil
}

func isXZ(payload []byte) bool { return bytes.HasPrefix(payload, xzMagic) }
