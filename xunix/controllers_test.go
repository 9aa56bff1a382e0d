package xunix

import (
	"slices"
	"testing"

	"github.com/spf13/afero"
)

func TestReadWordsAndNotEnabled(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	// Verbatim from a pure cgroup v2 guest: the root offers all eight.
	_ = afero.WriteFile(fsys, "/cg/cgroup.controllers", []byte("cpuset cpu io memory hugetlb pids rdma misc\n"), 0o444)
	_ = afero.WriteFile(fsys, "/cg/cgroup.subtree_control", []byte("cpu memory pids\n"), 0o644)
	_ = afero.WriteFile(fsys, "/cg/cgroup.procs", nil, 0o644)
	offered, err := ReadWords(fsys, "/cg/cgroup.controllers")
	if err != nil || !slices.Equal(offered, []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}) {
		t.Fatalf("ReadWords(cgroup.controllers) = %q, %v", offered, err)
	}
	enabled, _ := ReadWords(fsys, "/cg/cgroup.subtree_control")
	if got := NotEnabled(offered, enabled); !slices.Equal(got, []string{"cpuset", "io", "hugetlb", "rdma", "misc"}) {
		t.Errorf("NotEnabled = %q, want [cpuset io hugetlb rdma misc]", got)
	}
	if got := NotEnabled(offered, offered); got == nil || len(got) != 0 {
		t.Errorf("NotEnabled(all enabled) = %#v, want an empty, non-nil list (JSON [])", got)
	}
	if procs, err := ReadWords(fsys, "/cg/cgroup.procs"); err != nil || procs == nil || len(procs) != 0 {
		t.Errorf("ReadWords(empty cgroup.procs) = %#v, %v; want empty, non-nil", procs, err)
	}
	if _, err := ReadWords(fsys, "/cg/missing"); err == nil || err.Error() != "read /cg/missing: open /cg/missing: file does not exist" {
		t.Errorf("ReadWords(missing) error = %v", err)
	}
}
