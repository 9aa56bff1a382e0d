package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// attributionContainers and attributionProcs: ten containers of three
// processes each (a shell, two sleeps) make each measured share.
const (
	attributionContainers = 10
	attributionProcs      = 3
)

// BenchmarkAttribution is DESIGN §5's attribution row: the share of the
// inner containers' processes whose host cgroup is under the pod's cgroup,
// under `envbox dind` and for the same dockerd started bare in the same
// pod (which creates its containers beside the pod, not in it). Every
// process is counted from the host: the PIDs dockerd lists for each
// container (GET /containers/<id>/top) and their /proc/<pid>/cgroup.
func BenchmarkAttribution(b *testing.B) {
	requireDockerd(b)
	var envbox, bare float64
	var procs int
	for b.Loop() {
		d, cg := startEnvboxDockerd(b)
		envbox, procs = attributionShare(b, d, testRel(cg)+"/pod")
		d.pod.stop(stopGrace)
		d, cg = startBareDockerd(b)
		bare, _ = attributionShare(b, d, testRel(cg)+"/pod")
		d.pod.stop(stopGrace)
	}
	b.ReportMetric(envbox, "envbox_pct")
	b.ReportMetric(bare, "bare_dockerd_pct")
	b.ReportMetric(float64(procs), "processes")
	b.Logf("inner processes under the pod's cgroup: envbox dind %.1f %%, bare dockerd %.1f %% (%d processes each)", envbox, bare, procs)
}

// attributionShare starts the containers on d and returns the percentage
// of their processes whose host cgroup is under pod, and how many there were.
func attributionShare(b *testing.B, d *daemon, pod string) (float64, int) {
	b.Helper()
	importImage(b, d.pool, imageTarball(b, "base"), baseImage)
	cmd := []string{"sh", "-c", "sleep 100000 & sleep 100000 & wait"}
	var ids []string
	for range attributionContainers {
		ids = append(ids, runContainer(b, d.pool, baseImage, cmd, nil).ID)
	}
	var in, total int
	for _, id := range ids {
		pids := topPids(b, d, id)
		for _, pid := range pids {
			got, err := hostCgroup(pid)
			if err != nil {
				b.Fatalf("container %s pid %d: %v", id[:12], pid, err)
			}
			total++
			if strings.HasPrefix(got, pod+"/") {
				in++
			}
		}
	}
	if total != attributionContainers*attributionProcs {
		b.Fatalf("counted %d processes in %d containers, want %d", total, len(ids), attributionContainers*attributionProcs)
	}
	return 100 * float64(in) / float64(total), total
}

// topPids waits until dockerd lists all attributionProcs processes of the
// container (the shell forks its sleeps after start) and returns their
// host PIDs (dockerd runs in the host's PID namespace here).
func topPids(b *testing.B, d *daemon, id string) []int {
	b.Helper()
	var pids []int
	poll(b, timeoutStart, "processes of container "+id[:12], d.podExited, func() error {
		top, err := d.pool.Client.TopContainer(id, "")
		if err != nil {
			return err
		}
		col := -1
		for i, t := range top.Titles {
			if t == "PID" {
				col = i
			}
		}
		if col < 0 {
			return fmt.Errorf("no PID column in %q", top.Titles)
		}
		pids = pids[:0]
		for _, p := range top.Processes {
			pid, err := strconv.Atoi(p[col])
			if err != nil {
				return fmt.Errorf("PID %q: %w", p[col], err)
			}
			pids = append(pids, pid)
		}
		if len(pids) != attributionProcs {
			return fmt.Errorf("%d processes, want %d", len(pids), attributionProcs)
		}
		return nil
	})
	return pids
}
