package workspace

import (
	"fmt"
	"math"
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
