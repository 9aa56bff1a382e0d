package dind

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/envbox/envbox/xunix"
	"github.com/spf13/afero"
)

// delegatedRoot is where this container sees the cgroup root it delegated:
// the pod's cgroup once the script remounted cgroup2.
const delegatedRoot = "/sys/fs/cgroup"

// Health is what a startup, readiness or HEALTHCHECK probe asks: the
// delegation still holds (on cgroup v2, the root holds no process and
// every controller it offers is enabled for its children: a process that
// entered the root since would make dockerd's next container fail with
// EBUSY) and dockerd answers on the unix socket URL. The first failure is
// returned, naming the file or the socket.
func Health(ctx context.Context, fsys afero.Fs, socketURL string) error {
	if err := CheckDelegation(fsys, delegatedRoot); err != nil {
		return err
	}
	return Ping(ctx, socketURL)
}

// CheckDelegation checks the delegated root dir. Without cgroup v2 there
// (v1 or hybrid hosts) nothing was delegated and nothing is checked.
func CheckDelegation(fsys afero.Fs, dir string) error {
	offered, err := xunix.ReadWords(fsys, dir+"/cgroup.controllers")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	procs, err := xunix.ReadWords(fsys, dir+"/cgroup.procs")
	if err != nil {
		return err
	}
	if len(procs) > 0 {
		return fmt.Errorf("delegation lost: %s/cgroup.procs holds pids %s; the pod's root cgroup must hold none (they belong in %s/init)",
			dir, strings.Join(procs, " "), dir)
	}
	enabled, err := xunix.ReadWords(fsys, dir+"/cgroup.subtree_control")
	if err != nil {
		return err
	}
	missing := xunix.NotEnabled(offered, enabled)
	if len(missing) > 0 {
		return fmt.Errorf("delegation incomplete: %s/cgroup.subtree_control lacks %s (it has %q)",
			dir, strings.Join(missing, " "), strings.Join(enabled, " "))
	}
	return nil
}
