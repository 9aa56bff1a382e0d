package xunix

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// IDMapRange is one line of /proc/<pid>/uid_map or gid_map: Count IDs
// starting at Inside map to IDs starting at Outside.
type IDMapRange struct {
	Inside, Outside, Count uint32
}

// identityMap is the initial user namespace's map: every ID to itself.
var identityMap = IDMapRange{Inside: 0, Outside: 0, Count: 4294967295}

// ParseIDMapFile reads and parses /proc/<pid>/uid_map or gid_map.
func ParseIDMapFile(fsys afero.Fs, path string) ([]IDMapRange, error) {
	return parseFile(fsys, path, parseIDMap)
}

// InUserNamespace reports whether the process runs in a user namespace other
// than the initial one: its /proc/self/uid_map is not the identity map
// "0 0 4294967295".
func InUserNamespace(fsys afero.Fs) (bool, error) {
	m, err := ParseIDMapFile(fsys, "/proc/self/uid_map")
	if err != nil {
		return false, err
	}
	return len(m) != 1 || m[0] != identityMap, nil
}

// parseIDMap parses lines of three right-aligned numbers
// ("         0          0 4294967295"). An empty map is valid: a new user
// namespace has one until its creator writes it.
func parseIDMap(r io.Reader) ([]IDMapRange, error) {
	m := []IDMapRange{}
	err := scanLines(r, func(line string) error {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return errors.New("want inside outside count")
		}
		var n [3]uint32
		for i, f := range fields {
			v, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return fmt.Errorf("field %d: %w", i+1, err)
			}
			n[i] = uint32(v)
		}
		m = append(m, IDMapRange{Inside: n[0], Outside: n[1], Count: n[2]})
		return nil
	})
	var pe *ParseError
	if errors.As(err, &pe) && pe.Line == 0 && errors.Is(err, ErrEmpty) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
