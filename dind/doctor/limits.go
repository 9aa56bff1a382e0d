package doctor

import (
	"strconv"

	"github.com/envbox/envbox/xunix"
)

// limits reads the CPU and memory limits that bind envbox: the tightest of
// its own cgroup and every ancestor the mount shows (after delegation its
// own "init" says max while the pod's limit sits on the namespace root).
func (c *Checker) limits() Limits {
	cpu, err := xunix.ReadEffectiveCPUQuota(c.Fs, c.PID)
	l := Limits{CPU: cpuLimit(cpu, err)}
	mem, err := xunix.ReadEffectiveMemoryLimit(c.Fs, c.PID)
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
