package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// BenchmarkRunContainerd measures, alternating in every iteration, the
// time from starting the pod process to the first answered `ctr version`
// for `envbox run -- containerd ...` (preflight, the delegation, the
// supervisor) and for the same containerd started bare in the same kind
// of pod. Medians; "ratio" is envbox/bare.
func BenchmarkRunContainerd(b *testing.B) {
	if testing.Short() {
		b.Skip("real containerd: skipped under -short")
	}
	for _, bin := range []string{"containerd", "ctr", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(b, "containerd benchmark: %s not installed (integration/deps.sh installs docker.io): %v", bin, err)
		}
	}
	bin := envboxBinary(b)
	var envbox, bare []float64
	for b.Loop() {
		envbox = append(envbox, startContainerd(b, bin).Seconds()*1000)
		bare = append(bare, startContainerd(b, "").Seconds()*1000)
	}
	b.ReportMetric(median(envbox), "envbox_ms")
	b.ReportMetric(median(bare), "bare_containerd_ms")
	b.ReportMetric(median(envbox)/median(bare), "ratio")
	b.Logf("start to ctr version over %d starts each, ms: envbox run %.0f; bare containerd %.0f", len(envbox), envbox, bare)
}

// startContainerd starts containerd (under `envbox run` when bin is set)
// as the pod payload in a fresh test cgroup, returns the time until `ctr
// version` answers, and stops the pod.
func startContainerd(b *testing.B, bin string) time.Duration {
	b.Helper()
	dir := shortTempDir(b)
	config := filepath.Join(dir, "config.toml")
	// The CRI plugin is not what is measured (and wants CNI).
	if err := os.WriteFile(config, []byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	payload := []string{"containerd", "--config", config, "--address", sock,
		"--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state")}
	if bin != "" {
		payload = append([]string{bin, "run", "--stop-grace=5s", "--"}, payload...)
	}
	cg := cgtest.New(b)
	start := time.Now()
	p := startPod(b, cg, 10*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, payload...)
	deadline := start.Add(timeoutStart)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := exec.CommandContext(ctx, "ctr", "--address", sock, "version").Run()
		cancel()
		if err == nil {
			break
		}
		if done, perr := p.exited(); done {
			b.Fatalf("%q exited (%v) before ctr version answered: %v\n%s", payload, perr, err, p.out.String())
		}
		if time.Now().After(deadline) {
			b.Fatalf("ctr version on %s not answered after %v: %v\n%s", sock, timeoutStart, err, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	p.stop(10 * time.Second)
	if done, _ := p.exited(); !done {
		b.Fatalf("%q still running 10s after SIGTERM", payload)
	}
	return took
}
