package xunix

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/spf13/afero"
)

// ReadEffectiveCPUQuota is the tightest CPU quota that applies to process
// pid: its own cgroup's and every ancestor's the mount shows, up to the
// namespace root. After the delegation script envbox sits in init/, whose
// cpu.max is "max" while the pod's limit is on the root: the own file alone
// would say unlimited. A level without the file (the hierarchy's real root,
// a level with cpu not enabled) is skipped; any other error or bad content is
// returned. A cgroup the mounts do not show falls back to
// /sys/fs/cgroup/cpu.max, as ReadCPUQuotaV2 does for a missing own file.
func ReadEffectiveCPUQuota(fsys afero.Fs, pid string) (CPUQuota, error) {
	p, err := ReadProcCgroup(fsys, pid)
	if err != nil {
		return CPUQuota{}, err
	}
	if p.v1Has("cpu") {
		chain, err := p.V1Chain("cpu")
		if err != nil {
			return CPUQuota{}, err
		}
		return tightest(chain, "cpu.cfs_quota_us", func(dir string) (CPUQuota, error) {
			return ReadCPUQuotaV1(fsys, dir)
		}, tighterCPU)
	}
	chain, err := p.V2Chain()
	if err != nil {
		return readCPUQuotaV2(fsys, "", err)
	}
	return tightest(chain, "cpu.max", func(dir string) (CPUQuota, error) {
		return readCPUMaxFile(fsys, filepath.Join(dir, "cpu.max"))
	}, tighterCPU)
}

// ReadEffectiveMemoryLimit is ReadEffectiveCPUQuota for the memory limit.
func ReadEffectiveMemoryLimit(fsys afero.Fs, pid string) (MemoryLimit, error) {
	p, err := ReadProcCgroup(fsys, pid)
	if err != nil {
		return MemoryLimit{}, err
	}
	if p.v1Has("memory") {
		chain, err := p.V1Chain("memory")
		if err != nil {
			return MemoryLimit{}, err
		}
		return tightest(chain, "memory.limit_in_bytes", func(dir string) (MemoryLimit, error) {
			return ReadMemoryLimitV1(fsys, dir)
		}, tighterMemory)
	}
	chain, err := p.V2Chain()
	if err != nil {
		return readMemoryLimitV2(fsys, "", err)
	}
	return tightest(chain, "memory.max", func(dir string) (MemoryLimit, error) {
		src := filepath.Join(dir, "memory.max")
		data, err := readString(fsys, src)
		if err != nil {
			return MemoryLimit{}, err
		}
		return parseMemoryFile(data, src)
	}, tighterMemory)
}

// tightest reads every directory of chain and keeps the tightest value.
// Directories whose file does not exist are skipped; when none has it, the
// error wraps fs.ErrNotExist and names the own directory.
func tightest[T any](chain []string, name string, read func(dir string) (T, error), tighter func(a, b T) bool) (T, error) {
	var best T
	found := false
	for _, dir := range chain {
		v, err := read(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			var zero T
			return zero, err
		}
		if !found || tighter(v, best) {
			best, found = v, true
		}
	}
	if !found {
		return best, fmt.Errorf("no %s in %s or its %d ancestors: %w", name, chain[0], len(chain)-1, fs.ErrNotExist)
	}
	return best, nil
}

func tighterCPU(a, b CPUQuota) bool {
	return !a.Unlimited && (b.Unlimited || a.CPUs() < b.CPUs())
}

func tighterMemory(a, b MemoryLimit) bool {
	return !a.Unlimited && (b.Unlimited || a.Bytes < b.Bytes)
}

// readCPUMaxFile reads and parses one cpu.max, without fallback.
func readCPUMaxFile(fsys afero.Fs, path string) (CPUQuota, error) {
	data, err := readString(fsys, path)
	if err != nil {
		return CPUQuota{}, err
	}
	return parseCPUMaxFile(data, path)
}
