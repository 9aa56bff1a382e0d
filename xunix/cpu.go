package xunix

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// CPUQuota is a CFS bandwidth limit: Quota microseconds of CPU time per
// Period microseconds.
type CPUQuota struct {
	// Quota is -1 when Unlimited.
	Quota  int64
	Period int64
	// Unlimited is set for v2 "max" and v1 -1.
	Unlimited bool
	// Source is the file the quota was read from (cpu.max, or
	// cpu.cfs_quota_us with cpu.cfs_period_us beside it); empty when parsed
	// from bytes.
	Source string
}

// CPUs is the quota in CPUs (50000/100000 → 0.5), or 0 when Unlimited.
func (q CPUQuota) CPUs() float64 {
	if q.Unlimited || q.Period <= 0 {
		return 0
	}
	return float64(q.Quota) / float64(q.Period)
}

// ReadCPUQuotaV2 reads cpu.max in the v2 cgroup directory dir, or, only when
// that file does not exist, /sys/fs/cgroup/cpu.max (the remounted namespace
// root).
func ReadCPUQuotaV2(fsys afero.Fs, dir string) (CPUQuota, error) {
	return readCPUQuotaV2(fsys, dir, nil)
}

func readCPUQuotaV2(fsys afero.Fs, dir string, dirErr error) (CPUQuota, error) {
	data, src, err := readV2File(fsys, dir, dirErr, "cpu.max")
	if err != nil {
		return CPUQuota{}, err
	}
	return parseCPUMaxFile(data, src)
}

func parseCPUMaxFile(data, src string) (CPUQuota, error) {
	q, err := parseCPUMax(data)
	if err != nil {
		return CPUQuota{}, withPath(err, src)
	}
	q.Source = src
	return q, nil
}

// ReadCPUQuotaV1 reads cpu.cfs_quota_us and cpu.cfs_period_us in the v1 cpu
// cgroup directory dir.
func ReadCPUQuotaV1(fsys afero.Fs, dir string) (CPUQuota, error) {
	qPath := filepath.Join(dir, "cpu.cfs_quota_us")
	pPath := filepath.Join(dir, "cpu.cfs_period_us")
	qData, err := readString(fsys, qPath)
	if err != nil {
		return CPUQuota{}, err
	}
	pData, err := readString(fsys, pPath)
	if err != nil {
		return CPUQuota{}, err
	}
	quota, err := parseCFSQuota(qData)
	if err != nil {
		return CPUQuota{}, withPath(err, qPath)
	}
	period, err := parseCFSPeriod(pData)
	if err != nil {
		return CPUQuota{}, withPath(err, pPath)
	}
	return CPUQuota{Quota: quota, Period: period, Unlimited: quota == -1, Source: qPath}, nil
}

// parseCPUMax parses v2 cpu.max: "max 100000" or "50000 100000".
func parseCPUMax(s string) (CPUQuota, error) {
	line, err := oneLine(s)
	if err != nil {
		return CPUQuota{}, err
	}
	q, err := parseCPUMaxLine(line)
	if err != nil {
		return CPUQuota{}, &ParseError{Line: 1, Content: line, Err: err}
	}
	return q, nil
}

func parseCPUMaxLine(line string) (CPUQuota, error) {
	quota, period, ok := strings.Cut(line, " ")
	if !ok {
		return CPUQuota{}, errors.New(`want "$MAX $PERIOD"`)
	}
	p, err := parsePositive(period)
	if err != nil {
		return CPUQuota{}, fmt.Errorf("period: %w", err)
	}
	if quota == "max" {
		return CPUQuota{Quota: -1, Period: p, Unlimited: true}, nil
	}
	q, err := parsePositive(quota)
	if err != nil {
		return CPUQuota{}, fmt.Errorf(`quota (a number or "max"): %w`, err)
	}
	return CPUQuota{Quota: q, Period: p}, nil
}

// parseCFS parses the v1 pair cpu.cfs_quota_us ("-1" is unlimited) and
// cpu.cfs_period_us.
func parseCFS(quota, period string) (CPUQuota, error) {
	q, err := parseCFSQuota(quota)
	if err != nil {
		return CPUQuota{}, err
	}
	p, err := parseCFSPeriod(period)
	if err != nil {
		return CPUQuota{}, err
	}
	return CPUQuota{Quota: q, Period: p, Unlimited: q == -1}, nil
}

func parseCFSQuota(s string) (int64, error) {
	line, err := oneLine(s)
	if err != nil {
		return 0, err
	}
	if line == "-1" {
		return -1, nil
	}
	q, err := parsePositive(line)
	if err != nil {
		return 0, &ParseError{Line: 1, Content: line, Err: fmt.Errorf("cfs quota (-1 or positive): %w", err)}
	}
	return q, nil
}

func parseCFSPeriod(s string) (int64, error) {
	line, err := oneLine(s)
	if err != nil {
		return 0, err
	}
	p, err := parsePositive(line)
	if err != nil {
		return 0, &ParseError{Line: 1, Content: line, Err: fmt.Errorf("cfs period: %w", err)}
	}
	return p, nil
}

// parsePositive parses a decimal integer > 0 written the way the kernel
// writes it (no sign, no leading zeros, no spaces).
func parsePositive(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n <= 0 || s != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return n, nil
}
