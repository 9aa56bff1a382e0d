package cli

import (
	"net"
)

// interfaceIPs lists the addresses of every local interface, for TLS SANs.
func interfaceIPs() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP.String())
		}
	}
	return ips, nil
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
