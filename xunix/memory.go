package xunix

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/spf13/afero"
)

// memoryUnlimitedFloor: v1 reports "no limit" as PAGE_COUNTER_MAX pages in
// bytes, 9223372036854771712 with 4 KiB pages and a little less with larger
// pages. Nothing real reaches 2^62 bytes (4 EiB), so at and above it the
// value means unlimited.
const memoryUnlimitedFloor = 1 << 62

// MemoryLimit is a cgroup memory limit in bytes.
type MemoryLimit struct {
	// Bytes is -1 when Unlimited.
	Bytes int64
	// Unlimited is set for v2 "max" and for the v1 "no limit" values.
	Unlimited bool
	// Source is the file the limit was read from; empty when parsed from
	// bytes.
	Source string
}

// readMemoryLimitV2 reads memory.max in the v2 cgroup directory dir (dirErr
// is the error from resolving it), or, only when that file does not exist,
// /sys/fs/cgroup/memory.max (the remounted namespace root).
func readMemoryLimitV2(fsys afero.Fs, dir string, dirErr error) (MemoryLimit, error) {
	data, src, err := readV2File(fsys, dir, dirErr, "memory.max")
	if err != nil {
		return MemoryLimit{}, err
	}
	return parseMemoryFile(data, src)
}

// ReadMemoryLimitV1 reads memory.limit_in_bytes in the v1 memory cgroup
// directory dir.
func ReadMemoryLimitV1(fsys afero.Fs, dir string) (MemoryLimit, error) {
	src := filepath.Join(dir, "memory.limit_in_bytes")
	data, err := readString(fsys, src)
	if err != nil {
		return MemoryLimit{}, err
	}
	return parseMemoryFile(data, src)
}

func parseMemoryFile(data, src string) (MemoryLimit, error) {
	l, err := parseMemoryLimit(data)
	if err != nil {
		return MemoryLimit{}, withPath(err, src)
	}
	l.Source = src
	return l, nil
}

// parseMemoryLimit parses v2 memory.max ("max" or bytes) and v1
// memory.limit_in_bytes (bytes, huge when unlimited).
func parseMemoryLimit(s string) (MemoryLimit, error) {
	line, err := oneLine(s)
	if err != nil {
		return MemoryLimit{}, err
	}
	if line == "max" {
		return MemoryLimit{Bytes: -1, Unlimited: true}, nil
	}
	n, err := strconv.ParseUint(line, 10, 64)
	if err == nil && line != strconv.FormatUint(n, 10) {
		err = fmt.Errorf("%q is not written the way the kernel writes numbers", line)
	}
	if err != nil {
		return MemoryLimit{}, &ParseError{Line: 1, Content: line, Err: fmt.Errorf(`memory limit (bytes or "max"): %w`, err)}
	}
	if n >= memoryUnlimitedFloor {
		return MemoryLimit{Bytes: -1, Unlimited: true}, nil
	}
	return MemoryLimit{Bytes: int64(n)}, nil
}
