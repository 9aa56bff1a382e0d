package doctor

import (
	"strconv"

	"github.com/envbox/envbox/xunix"
)

// limits reads the pod's CPU and memory limits: on cgroup v2 the files of
// the pod directory itself (its children, "init" included, are unlimited
// below it); elsewhere the v1 hierarchy envbox belongs to.
func (c *Checker) limits(mode xunix.CgroupMode, podDir string) Limits {
	var (
		cpu xunix.CPUQuota
		mem xunix.MemoryLimit
		err error
		l   Limits
	)
	if mode == xunix.CgroupV2 {
		cpu, err = xunix.ReadCPUQuotaV2(c.Fs, podDir)
	} else {
		cpu, err = xunix.ReadCPUQuota(c.Fs, c.PID)
	}
	l.CPU = cpuLimit(cpu, err)
	if mode == xunix.CgroupV2 {
		mem, err = xunix.ReadMemoryLimitV2(c.Fs, podDir)
	} else {
		mem, err = xunix.ReadMemoryLimit(c.Fs, c.PID)
	}
	l.Memory = memoryLimit(mem, err)
	return l
}

func cpuLimit(q xunix.CPUQuota, err error) Limit {
	switch {
	case err != nil:
		return Limit{Error: err.Error()}
	case q.Unlimited:
		return Limit{Value: "max", Source: q.Source}
	}
	return Limit{Value: strconv.FormatFloat(q.CPUs(), 'f', -1, 64), Source: q.Source}
}

func memoryLimit(m xunix.MemoryLimit, err error) Limit {
	switch {
	case err != nil:
		return Limit{Error: err.Error()}
	case m.Unlimited:
		return Limit{Value: "max", Source: m.Source}
	}
	return Limit{Value: strconv.FormatInt(m.Bytes, 10), Source: m.Source}
}
