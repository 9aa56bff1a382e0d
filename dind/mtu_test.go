package dind

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// routeTable is /proc/net/route as a kernel prints it (this project's CI
// machine: eth0 with its gateway; a second default route with a higher
// metric; a link route).
const routeTable = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT                                                       
wg0	00000000	00000000	0001	0	0	200	00000000	0	0	0                                                                               
eth0	00000000	0102000A	0003	0	0	100	00000000	0	0	0                                                                               
eth0	0002000A	00000000	0001	0	0	0	00FFFFFF	0	0	0                                                                               
`

func TestParseDefaultRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "lowest_metric", in: routeTable, want: "eth0"},
		{name: "down_route_skipped", in: "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
			"eth1\t00000000\t0102000A\t0002\t0\t0\t0\t00000000\neth0\t00000000\t0102000A\t0003\t0\t0\t5\t00000000\n", want: "eth0"},
		{name: "no_default", in: "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n",
			wantErr: "no IPv4 default route"},
		{name: "empty_namespace", in: "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n", wantErr: "no IPv4 default route"},
		{name: "no_header", in: "eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\n", wantErr: `line 1 "eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000": not the route table header`},
		{name: "short_line", in: "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0 00000000\n", wantErr: `line 2 "eth0 00000000": want at least 8 fields`},
		{name: "bad_flags", in: "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t00000000\t0\tzz\t0\t0\t1\t00000000\n", wantErr: `line 2 "eth0\t00000000\t0\tzz\t0\t0\t1\t00000000": bad flags or metric`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDefaultRoute(strings.NewReader(tt.in))
			if errString(err) != orNil(tt.wantErr) || got != tt.want {
				t.Errorf("parseDefaultRoute(%q) = %q, %v; want %q, %s", tt.in, got, err, tt.want, orNil(tt.wantErr))
			}
		})
	}
}

func orNil(s string) string {
	if s == "" {
		return "<nil>"
	}
	return s
}

func TestChooseMTU(t *testing.T) {
	t.Parallel()
	mtus := map[string]int{"eth0": 1400, "wg0": 1420}
	ifaceMTU := func(name string) (int, error) {
		if m, ok := mtus[name]; ok {
			return m, nil
		}
		return 0, errors.New("no such network interface")
	}
	zero, jumbo := 0, 9000
	tests := []struct {
		name     string
		argv     []string
		routes   string // "" = no /proc/net/route
		files    map[string]string
		override *int
		want     MTUChoice
	}{
		{name: "pod_below_1500", argv: []string{"dockerd"}, routes: routeTable,
			want: MTUChoice{Flag: "--mtu=1400", Reason: "default route via eth0, mtu 1400"}},
		{name: "user_flag_wins", argv: []string{"dockerd", "--mtu=1300"}, routes: routeTable,
			want: MTUChoice{Reason: "--mtu given to dockerd"}},
		{name: "user_flag_separate_value", argv: []string{"dockerd", "--mtu", "1300"}, routes: routeTable,
			want: MTUChoice{Reason: "--mtu given to dockerd"}},
		{name: "daemon_json_wins", argv: []string{"dockerd"}, routes: routeTable, files: map[string]string{"/etc/docker/daemon.json": `{"mtu": 1350}`},
			want: MTUChoice{Reason: "mtu set in /etc/docker/daemon.json"}},
		{name: "config_file_flag", argv: []string{"dockerd", "--config-file", "/cfg/d.json"}, routes: routeTable,
			files: map[string]string{"/cfg/d.json": `{"mtu": 1350}`, "/etc/docker/daemon.json": `{}`},
			want:  MTUChoice{Reason: "mtu set in /cfg/d.json"}},
		{name: "daemon_json_without_mtu", argv: []string{"dockerd"}, routes: routeTable, files: map[string]string{"/etc/docker/daemon.json": `{"debug": true}`},
			want: MTUChoice{Flag: "--mtu=1400", Reason: "default route via eth0, mtu 1400"}},
		{name: "daemon_json_broken", argv: []string{"dockerd"}, routes: routeTable, files: map[string]string{"/etc/docker/daemon.json": `{"mtu":`},
			want: MTUChoice{Reason: "parse /etc/docker/daemon.json: unexpected end of JSON input: dockerd will say what is wrong; no --mtu added"}},
		// dockerd takes an empty (or blank) file for no configuration.
		{name: "daemon_json_empty", argv: []string{"dockerd"}, routes: routeTable, files: map[string]string{"/etc/docker/daemon.json": " \n"},
			want: MTUChoice{Flag: "--mtu=1400", Reason: "default route via eth0, mtu 1400"}},
		// dockerd skips a UTF-8 byte order mark (Notepad writes one).
		{name: "daemon_json_utf8_bom", argv: []string{"dockerd"}, routes: routeTable, files: map[string]string{"/etc/docker/daemon.json": "\ufeff{\"mtu\": 1350}"},
			want: MTUChoice{Reason: "mtu set in /etc/docker/daemon.json"}},
		// pflag keeps the last --config-file: an --mtu added from the
		// first one's lack of "mtu" would make dockerd refuse to start
		// ("mtu: (from flag: 1400, from file: 1350)").
		{name: "config_file_last_wins", argv: []string{"dockerd", "--config-file=/cfg/a.json", "--config-file", "/cfg/b.json"}, routes: routeTable,
			files: map[string]string{"/cfg/a.json": `{}`, "/cfg/b.json": `{"mtu": 1350}`},
			want:  MTUChoice{Reason: "mtu set in /cfg/b.json"}},
		{name: "override", argv: []string{"dockerd"}, routes: routeTable, override: &jumbo,
			want: MTUChoice{Flag: "--mtu=9000", Reason: "ENVBOX_MTU"}},
		{name: "override_zero", argv: []string{"dockerd"}, routes: routeTable, override: &zero,
			want: MTUChoice{Reason: "ENVBOX_MTU=0: dockerd's default"}},
		{name: "user_flag_beats_override", argv: []string{"dockerd", "--mtu=1300"}, override: &jumbo,
			want: MTUChoice{Reason: "--mtu given to dockerd"}},
		{name: "interface_gone", argv: []string{"dockerd"}, routes: strings.Replace(routeTable, "eth0", "lo", 1),
			want: MTUChoice{Reason: "mtu of lo: no such network interface: dockerd's default"}},
		{name: "no_route_table", argv: []string{"dockerd"},
			want: MTUChoice{Reason: "read /proc/net/route: open /proc/net/route: file does not exist: dockerd's default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			if tt.routes != "" {
				_ = afero.WriteFile(fsys, "/proc/net/route", []byte(tt.routes), 0o444)
			}
			for p, data := range tt.files {
				_ = afero.WriteFile(fsys, p, []byte(data), 0o644)
			}
			if got := ChooseMTU(fsys, tt.argv, tt.override, ifaceMTU); got != tt.want {
				t.Errorf("ChooseMTU(%q) = %+v, want %+v", tt.argv, got, tt.want)
			}
		})
	}
	mtus1500 := func(string) (int, error) { return 1500, nil }
	fsys := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys, "/proc/net/route", []byte(routeTable), 0o444)
	if got, want := ChooseMTU(fsys, []string{"dockerd"}, nil, mtus1500), (MTUChoice{Reason: "default route via eth0, mtu 1500: dockerd's default"}); got != want {
		t.Errorf("ChooseMTU at 1500 = %+v, want %+v", got, want)
	}
}

func FuzzParseDefaultRoute(f *testing.F) {
	f.Add(routeTable)
	f.Add("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
	f.Add("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t00000000\t0\tzz\t0\t0\t1\t00000000\n")
	f.Fuzz(func(t *testing.T, in string) {
		iface, err := parseDefaultRoute(strings.NewReader(in))
		if err == nil && (iface == "" || strings.ContainsAny(iface, " \t\n")) {
			t.Errorf("parseDefaultRoute(%q) = %q without error", in, iface)
		}
	})
}
