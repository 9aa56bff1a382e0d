package dind

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// SelfOOMScoreAdj is envbox's own oom_score_adj as PID 1 of the pod: the
// kernel's last choice when the pod as a whole runs out of memory, so the
// pod's supervisor survives to report and restart. Not -1000 (never
// killed), which would leave an OOM with no victim at all.
const SelfOOMScoreAdj = -999

const selfOOMFile = "/proc/self/oom_score_adj"

// ProtectSelf sets envbox's own oom_score_adj to SelfOOMScoreAdj and
// returns the score it had, which dockerd gets back through the
// delegation script (containerd and the containers follow dockerd's own
// rules from there, not envbox's). On error orig is still the score read,
// or 0 when it could not be read.
func ProtectSelf(fsys afero.Fs) (orig int, err error) {
	b, err := afero.ReadFile(fsys, selfOOMFile)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", selfOOMFile, err)
	}
	orig, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || orig < -1000 || orig > 1000 {
		return 0, fmt.Errorf("parse %s %q: want a whole number from -1000 to 1000", selfOOMFile, b)
	}
	if err := writeCgroupFile(fsys, selfOOMFile, strconv.Itoa(SelfOOMScoreAdj)); err != nil {
		return orig, err
	}
	return orig, nil
}
