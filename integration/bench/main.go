package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// suite is one `go test -bench` run.
type suite struct {
	pkg, bench, benchtime string
}

// suites run one after the other (never two at once: they would share the
// 2 cores). The benchtimes keep `make bench` to a few minutes: the classic
// loop alone takes seconds per iteration at 1000 processes.
var suites = []suite{
	{"./embed", "^BenchmarkDelegate$", "5x"},
	{"./embed", "^BenchmarkMoveLoop$", "10x"},
	{"./background", ".", "100x"},
	{"./dind/adopt", ".", "5x"},
	{"./integration", "^BenchmarkStartup$", "5x"},
	{"./integration", "^BenchmarkRunContainerd$", "5x"},
	{"./integration", "^BenchmarkAttribution$", "1x"},
	{"./integration", "^BenchmarkAdoptProxyDockerd$", "5x"},
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run runs every suite, showing its output on stderr and keeping it in
// the raw log, then prints the table on stdout. A suite that fails does
// not stop the others; run returns an error naming the failed ones after
// the table.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	bin := fs.String("bin", "bin/envbox", "the built envbox binary whose size is reported")
	raw := fs.String("raw", "bin/bench.txt", "file that keeps the raw `go test` output")
	goCmd := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := os.Create(*raw)
	if err != nil {
		return fmt.Errorf("create raw log: %w", err)
	}
	defer log.Close()
	env, err := testEnv(*bin)
	if err != nil {
		return err
	}
	rs := newResults()
	var failed []string
	for _, s := range suites {
		if err := runSuite(*goCmd, env, s, rs, io.MultiWriter(stderr, log)); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if err := recordSize(rs, *bin); err != nil {
		failed = append(failed, err.Error())
	}
	if err := render(stdout, rs, rows); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// testEnv is the benchmarks' environment: the startup benchmark runs the
// built binary (stripped, as shipped) instead of building its own.
func testEnv(bin string) ([]string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("-bin %q: %w", bin, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("-bin %q (run make build): %w", bin, err)
	}
	return append(os.Environ(), "ENVBOX_TEST_BIN="+abs), nil
}

// runSuite runs one suite and parses its output into rs.
func runSuite(goCmd string, env []string, s suite, rs *results, out io.Writer) error {
	argv := []string{"test", "-v", "-count=1", "-timeout=10m", "-run=^$", "-bench=" + s.bench, "-benchtime=" + s.benchtime, s.pkg}
	fmt.Fprintf(out, "=== bench: %s %s\n", goCmd, strings.Join(argv, " "))
	var buf bytes.Buffer
	cmd := exec.Command(goCmd, argv...)
	cmd.Env = env
	cmd.Stdout = io.MultiWriter(out, &buf)
	cmd.Stderr = cmd.Stdout
	runErr := cmd.Run()
	if err := rs.parse(&buf); err != nil {
		return fmt.Errorf("%s %s: %w", s.pkg, s.bench, err)
	}
	if runErr != nil {
		return fmt.Errorf("go test %s -bench %s: %w", s.pkg, s.bench, runErr)
	}
	return nil
}

// recordSize records the size of the binary at path as a result.
func recordSize(rs *results, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		rs.failed[binSizeBench] = err.Error()
		return fmt.Errorf("stat %s: %w", path, err)
	}
	rs.metrics[binSizeBench] = map[string]float64{"bytes": float64(fi.Size())}
	return nil
}
