package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"

	"github.com/spf13/afero"
)

// gpuLibRE matches the NVIDIA driver libraries a workspace needs.
var gpuLibRE = regexp.MustCompile(`^lib(nvidia|cuda)[a-zA-Z0-9_-]*\.so(\.[0-9.]+)?$`)

// DetectDevices checks the requested devices exist in the outer container
// and lists GPU device nodes and driver libraries (below usrLibDir).
func DetectDevices(fsys afero.Fs, tun, fuse, gpu bool, usrLibDir string) (Devices, error) {
	var d Devices
	for _, want := range []struct {
		on   bool
		path string
		set  *bool
	}{{tun, TUNPath, &d.TUN}, {fuse, FUSEPath, &d.FUSE}} {
		if !want.on {
			continue
		}
		if _, err := fsys.Stat(want.path); err != nil {
			return Devices{}, fmt.Errorf("stat %s: %w", want.path, err)
		}
		*want.set = true
	}
	if !gpu {
		return d, nil
	}
	var err error
	if d.GPUs, err = afero.Glob(fsys, "/dev/nvidia*"); err != nil {
		return Devices{}, fmt.Errorf("glob /dev/nvidia*: %w", err)
	}
	if len(d.GPUs) == 0 {
		return Devices{}, errors.New("no /dev/nvidia* device in the outer container")
	}
	d.GPULibs, err = gpuLibs(fsys, usrLibDir)
	return d, err
}

func gpuLibs(fsys afero.Fs, dir string) ([]string, error) {
	var libs []string
	err := afero.Walk(fsys, dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if info.Mode()&fs.ModeType == fs.ModeDir || !gpuLibRE.MatchString(path.Base(p)) {
			return nil
		}
		libs = append(libs, p)
		return nil
	})
	sort.Strings(libs)
	return libs, err
}
