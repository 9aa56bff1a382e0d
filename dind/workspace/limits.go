package workspace

import (
	"fmt"
	"math"

	"github.com/envbox/envbox/xunix"
	"github.com/spf13/afero"
)

// DefaultCPUPeriod is the CFS period used with CODER_CPUS, in microseconds.
const DefaultCPUPeriod = 100000

// Limits are the workspace's cgroup limits; zero means none.
type Limits struct {
	CPUQuota  int64 // microseconds per period
	CPUPeriod int64 // microseconds
	Memory    int64 // bytes
}

// CgroupLimits reads the outer container's own limits (package xunix: v2
// cpu.max/memory.max with the remounted-root fallback, v1 cfs/limit files).
type CgroupLimits interface {
	// CPU returns quota and period in microseconds; quota < 0 is "max".
	CPU() (quota, period int64, err error)
	// Memory returns the limit in bytes; < 0 is "max".
	Memory() (int64, error)
}

// DeriveLimits returns the workspace limits: the explicit values when set,
// otherwise the outer cgroup's, so the workspace sees what the pod has.
func DeriveLimits(cpus float64, memory int64, cg CgroupLimits) (Limits, error) {
	var l Limits
	if cpus > 0 {
		l.CPUPeriod = DefaultCPUPeriod
		l.CPUQuota = int64(math.Round(cpus * DefaultCPUPeriod))
	} else {
		q, p, err := cg.CPU()
		if err != nil {
			return Limits{}, fmt.Errorf("outer cpu limit: %w", err)
		}
		if q > 0 && p > 0 {
			l.CPUQuota, l.CPUPeriod = q, p
		}
	}
	if memory > 0 {
		l.Memory = memory
		return l, nil
	}
	m, err := cg.Memory()
	if err != nil {
		return Limits{}, fmt.Errorf("outer memory limit: %w", err)
	}
	if m > 0 {
		l.Memory = m
	}
	return l, nil
}

// CgroupFS reads envbox's own effective cgroup limits from cgroupfs.
type CgroupFS struct{ Fs afero.Fs }

func (x CgroupFS) CPU() (int64, int64, error) {
	q, err := xunix.ReadEffectiveCPUQuota(x.Fs, "self")
	if err != nil {
		return 0, 0, err
	}
	if q.Unlimited {
		return -1, q.Period, nil
	}
	return q.Quota, q.Period, nil
}

func (x CgroupFS) Memory() (int64, error) {
	m, err := xunix.ReadEffectiveMemoryLimit(x.Fs, "self")
	if err != nil {
		return 0, err
	}
	if m.Unlimited {
		return -1, nil
	}
	return m.Bytes, nil
}
