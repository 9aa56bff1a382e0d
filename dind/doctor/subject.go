package doctor

import (
	"fmt"

	"github.com/envbox/envbox/xunix"
)

// view resolves subjects against one mount table and records offenders in
// the report.
type view struct {
	c      *Checker
	r      *Report
	mounts []xunix.Mount
}

// subject fills in s for the cgroup v2 path cg and records it as an
// offender when it is not attributed.
func (v view) subject(s Subject, cg string) Subject {
	s.Cgroup = cg
	s.Attributed, s.Problem = v.attribute(&s)
	if !s.Attributed {
		v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("%s: %s", label(s), s.Problem))
	}
	return s
}

// attribute sets the host path and cgroup ID of s and says whether s is at
// or below the pod cgroup.
func (v view) attribute(s *Subject) (bool, string) {
	if host, ok := hostPath(v.r.HostRoot, v.r.NamespaceRoot, s.Cgroup); ok {
		s.HostCgroup = host
	}
	dir, err := xunix.CgroupV2Dir(v.mounts, s.Cgroup)
	if err == nil {
		s.CgroupID, err = v.c.Inode(dir)
	}
	if _, ok := below(v.r.PodCgroup, s.Cgroup); !ok {
		return false, fmt.Sprintf("cgroup %s is not below the pod cgroup %s", s.Cgroup, v.r.PodCgroup)
	}
	if err != nil {
		return false, fmt.Sprintf("cgroup %s: %v", s.Cgroup, err)
	}
	return true, ""
}

// failed records a subject whose cgroup could not be read at all.
func (v view) failed(s Subject, err error) Subject {
	s.Problem = err.Error()
	v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("%s: %s", label(s), s.Problem))
	return s
}

// label names a subject in an offender line.
func label(s Subject) string {
	if s.Kind == kindEnvbox {
		return fmt.Sprintf("envbox (pid %d)", s.PID)
	}
	return fmt.Sprintf("container %s (%s, pid %d)", s.Name, shortID(s.ID), s.PID)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
