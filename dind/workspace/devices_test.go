package workspace

import (
	"reflect"
	"testing"

	"github.com/spf13/afero"
)

func TestDetectDevices(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	for _, f := range []string{
		"/dev/net/tun", "/dev/fuse", "/dev/nvidia0", "/dev/nvidiactl",
		"/host/lib/libcuda.so.1", "/host/lib/libnvidia-ml.so.535.54.03", "/host/lib/libc.so.6",
		"/host/lib/nvidia/libnvidia-encode.so", "/host/lib/libcudart.a",
	} {
		if err := afero.WriteFile(fsys, f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := DetectDevices(fsys, true, true, true, "/host/lib")
	if err != nil {
		t.Fatal(err)
	}
	want := Devices{
		TUN: true, FUSE: true,
		GPUs:    []string{"/dev/nvidia0", "/dev/nvidiactl"},
		GPULibs: []string{"/host/lib/libcuda.so.1", "/host/lib/libnvidia-ml.so.535.54.03", "/host/lib/nvidia/libnvidia-encode.so"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DetectDevices = %+v, want %+v", got, want)
	}
}

func TestDetectDevicesMissing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		tun, fuse, gpu bool
		wantErr        string
	}{
		{name: "tun", tun: true, wantErr: "stat /dev/net/tun: open /dev/net/tun: file does not exist"},
		{name: "fuse", fuse: true, wantErr: "stat /dev/fuse: open /dev/fuse: file does not exist"},
		{name: "gpu", gpu: true, wantErr: "no /dev/nvidia* device in the outer container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DetectDevices(afero.NewMemMapFs(), tt.tun, tt.fuse, tt.gpu, "/host/lib")
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("DetectDevices(tun=%v fuse=%v gpu=%v) error = %v, want %q", tt.tun, tt.fuse, tt.gpu, err, tt.wantErr)
			}
		})
	}
}
