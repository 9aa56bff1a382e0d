package dind

import (
	"testing"

	"github.com/spf13/afero"
)

func TestProtectSelf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, after, wantErr string
		want                     int
	}{
		{name: "kubernetes_burstable", in: "-997\n", after: "-999", want: -997},
		{name: "default", in: "0\n", after: "-999", want: 0},
		{name: "best_effort", in: "1000\n", after: "-999", want: 1000},
		{name: "garbage", in: "lots\n", after: "lots\n", wantErr: `parse /proc/self/oom_score_adj "lots\n": want a whole number from -1000 to 1000`},
		{name: "out_of_range", in: "1001\n", after: "1001\n", wantErr: `parse /proc/self/oom_score_adj "1001\n": want a whole number from -1000 to 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			_ = afero.WriteFile(fsys, "/proc/self/oom_score_adj", []byte(tt.in), 0o644)
			got, err := ProtectSelf(fsys)
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) || tt.wantErr == "" && err != nil {
				t.Errorf("ProtectSelf(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ProtectSelf(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if b, _ := afero.ReadFile(fsys, "/proc/self/oom_score_adj"); string(b) != tt.after {
				t.Errorf("ProtectSelf(%q) left %q, want %q", tt.in, b, tt.after)
			}
		})
	}
	// The kernel refuses a lower score without CAP_SYS_RESOURCE.
	fsys := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys, "/proc/self/oom_score_adj", []byte("0\n"), 0o644)
	got, err := ProtectSelf(afero.NewReadOnlyFs(fsys))
	want := `write "-999" to /proc/self/oom_score_adj: operation not permitted`
	if err == nil || err.Error() != want || got != 0 {
		t.Errorf("ProtectSelf(read-only) = %d, %v; want 0, %q", got, err, want)
	}
}
