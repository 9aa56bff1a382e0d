package workspace

import (
	"errors"
	"testing"
)

type fakeCgroup struct {
	quota, period, mem int64
	err                error
}

func (f fakeCgroup) CPU() (int64, int64, error) { return f.quota, f.period, f.err }
func (f fakeCgroup) Memory() (int64, error)     { return f.mem, f.err }

func TestDeriveLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cpus    float64
		memory  int64
		cg      fakeCgroup
		want    Limits
		wantErr string
	}{
		{name: "explicit_wins", cpus: 1.5, memory: 1 << 30, cg: fakeCgroup{quota: 400000, period: 100000, mem: 8 << 30},
			want: Limits{CPUQuota: 150000, CPUPeriod: 100000, Memory: 1073741824}},
		{name: "explicit_rounds", cpus: 0.333333, memory: 0, cg: fakeCgroup{quota: -1, period: 100000, mem: -1},
			want: Limits{CPUQuota: 33333, CPUPeriod: 100000}},
		{name: "from_outer_cgroup", cg: fakeCgroup{quota: 200000, period: 50000, mem: 4294967296},
			want: Limits{CPUQuota: 200000, CPUPeriod: 50000, Memory: 4294967296}},
		{name: "outer_unlimited", cg: fakeCgroup{quota: -1, period: 100000, mem: -1},
			want: Limits{}},
		{name: "outer_error", cg: fakeCgroup{err: errors.New("open /sys/fs/cgroup/cpu.max: no such file or directory")},
			wantErr: "outer cpu limit: open /sys/fs/cgroup/cpu.max: no such file or directory"},
		{name: "outer_memory_error", cpus: 1, cg: fakeCgroup{err: errors.New("boom")},
			wantErr: "outer memory limit: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DeriveLimits(tt.cpus, tt.memory, tt.cg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("DeriveLimits(%v, %v, %+v) error = %v, want %q", tt.cpus, tt.memory, tt.cg, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DeriveLimits(%v, %v, %+v) = %+v, %v; want %+v", tt.cpus, tt.memory, tt.cg, got, err, tt.want)
			}
		})
	}
}
