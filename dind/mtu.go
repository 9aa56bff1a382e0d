package dind

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// bridgeMTU is the MTU of dockerd's bridge when it is given none.
const bridgeMTU = 1500

// DaemonJSON is dockerd's default configuration file.
const DaemonJSON = "/etc/docker/daemon.json"

// MTUChoice is the --mtu envbox adds to dockerd's argv, and why.
type MTUChoice struct {
	// Flag is "--mtu=N", or "" when dockerd keeps what it has.
	Flag   string
	Reason string
}

// ChooseMTU picks dockerd's bridge MTU. Inside Kubernetes the pod's
// interface is often below 1500 (overlay networks): a 1500 bridge then
// drops large packets of every inner container. The user's choice wins: a
// --mtu in argv or an "mtu" in dockerd's configuration file. override is
// ENVBOX_MTU (nil: unset; 0: leave dockerd's default). Otherwise the MTU of
// the interface holding the default route, when it is below 1500.
func ChooseMTU(fsys afero.Fs, argv []string, override *int, ifaceMTU func(name string) (int, error)) MTUChoice {
	if flagGiven(argv, "--mtu") {
		return MTUChoice{Reason: "--mtu given to dockerd"}
	}
	conf := flagValue(argv, "--config-file")
	if conf == "" {
		conf = DaemonJSON
	}
	switch has, err := configHasKey(fsys, conf, "mtu"); {
	case err != nil:
		return MTUChoice{Reason: fmt.Sprintf("%v: dockerd will say what is wrong; no --mtu added", err)}
	case has:
		return MTUChoice{Reason: "mtu set in " + conf}
	}
	if override != nil {
		if *override == 0 {
			return MTUChoice{Reason: "ENVBOX_MTU=0: dockerd's default"}
		}
		return MTUChoice{Flag: "--mtu=" + strconv.Itoa(*override), Reason: "ENVBOX_MTU"}
	}
	iface, err := defaultRouteIface(fsys)
	if err != nil {
		return MTUChoice{Reason: fmt.Sprintf("%v: dockerd's default", err)}
	}
	mtu, err := ifaceMTU(iface)
	if err != nil {
		return MTUChoice{Reason: fmt.Sprintf("mtu of %s: %v: dockerd's default", iface, err)}
	}
	if mtu >= bridgeMTU {
		return MTUChoice{Reason: fmt.Sprintf("default route via %s, mtu %d: dockerd's default", iface, mtu)}
	}
	return MTUChoice{Flag: "--mtu=" + strconv.Itoa(mtu), Reason: fmt.Sprintf("default route via %s, mtu %d", iface, mtu)}
}

// flagGiven reports a dockerd flag in argv, as --name or --name=value.
func flagGiven(argv []string, name string) bool {
	for _, a := range argv {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// flagValue is the value of the last --name=value or --name value (pflag
// keeps the last), "" when absent.
func flagValue(argv []string, name string) string {
	vs := flagValues(argv, name)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// flagValues is every value of --name=value or --name value in argv, in
// order (a repeatable flag such as --exec-opt).
func flagValues(argv []string, name string) []string {
	var vs []string
	for i := 0; i < len(argv); i++ {
		if s, ok := strings.CutPrefix(argv[i], name+"="); ok {
			vs = append(vs, s)
		} else if argv[i] == name && i+1 < len(argv) {
			i++
			vs = append(vs, argv[i])
		}
	}
	return vs
}

// configHasKey reports whether the JSON object in path has key.
func configHasKey(fsys afero.Fs, path, key string) (bool, error) {
	var obj map[string]json.RawMessage
	if err := readDaemonConfig(fsys, path, &obj); err != nil {
		return false, err
	}
	_, ok := obj[key]
	return ok, nil
}

// readDaemonConfig decodes the daemon.json at path into v as dockerd reads
// it: a missing or empty file leaves v as it is, and a UTF-8 byte order
// mark is skipped.
func readDaemonConfig(fsys afero.Fs, path string, v any) error {
	data, err := afero.ReadFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\ufeff")))
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// routeFile lists the IPv4 routes of this network namespace.
const routeFile = "/proc/net/route"

// defaultRouteIface is the interface of the IPv4 default route with the
// lowest metric.
func defaultRouteIface(fsys afero.Fs) (string, error) {
	f, err := fsys.Open(routeFile)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", routeFile, err)
	}
	defer f.Close()
	iface, err := parseDefaultRoute(f)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", routeFile, err)
	}
	return iface, nil
}

// parseDefaultRoute reads /proc/net/route: a header line, then "Iface
// Destination Gateway Flags RefCnt Use Metric Mask ..." in hex, one route
// a line. A default route has destination and mask 0 and the RTF_UP flag.
func parseDefaultRoute(r io.Reader) (string, error) {
	s := bufio.NewScanner(r)
	best, bestMetric := "", -1
	for n := 1; s.Scan(); n++ {
		f := strings.Fields(s.Text())
		if n == 1 {
			if len(f) < 8 || f[0] != "Iface" {
				return "", fmt.Errorf("line 1 %q: not the route table header", s.Text())
			}
			continue
		}
		if len(f) < 8 {
			return "", fmt.Errorf("line %d %q: want at least 8 fields", n, s.Text())
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.Atoi(f[6])
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("line %d %q: bad flags or metric", n, s.Text())
		}
		const rtfUp = 0x1
		if f[1] != "00000000" || f[7] != "00000000" || flags&rtfUp == 0 {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	if best == "" {
		return "", errors.New("no IPv4 default route")
	}
	return best, nil
}
