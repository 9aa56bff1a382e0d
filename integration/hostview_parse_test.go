package integration

import (
	"strings"
	"testing"
)

func TestParseCgroup2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantErr string
	}{{
		// this machine's test shell: hybrid, v1 lines first
		name: "hybrid_root",
		in:   "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b0a78cda4a115040e820f04528a053ba\n1:cpu:/\n0::/\n",
		want: "/",
	}, {
		// a container of TestEnvboxContainerInPodCgroup, read from the host
		name: "hybrid_container",
		in:   "4:memory:/process_api/b0a78cda4a115040e820f04528a053ba\n0::/envbox-test-fa801de566ff35a8/pod/docker/5bdf22397ea861d0e79854f6a742d8b55ce7fc0909dfd556e5dbf8ee4f63e3bf\n",
		want: "/envbox-test-fa801de566ff35a8/pod/docker/5bdf22397ea861d0e79854f6a742d8b55ce7fc0909dfd556e5dbf8ee4f63e3bf",
	}, {
		// pure v2, a process outside the reader's cgroup namespace
		name: "v2_outside_namespace",
		in:   "0::/../../init\n",
		want: "/../../init",
	}, {
		// pure v1: no unified line
		name:    "v1_only",
		in:      "3:cpuset:/\n2:cpu,cpuacct:/docker/abc\n",
		wantErr: `no 0:: line in /proc/1/cgroup: "3:cpuset:/\n2:cpu,cpuacct:/docker/abc\n"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCgroup2("/proc/1/cgroup", tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("parseCgroup2(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseCgroup2(f *testing.F) {
	f.Add("0::/\n")
	f.Add("4:memory:/a\n0::/b\n")
	f.Add("1:cpu:/\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseCgroup2("/proc/1/cgroup", in)
		if err != nil && (got != "" || !strings.Contains(err.Error(), "/proc/1/cgroup")) {
			t.Errorf("parseCgroup2(%q) = %q, %v; want \"\" and an error naming the file", in, got, err)
		}
	})
}
