package dind

import (
	"crypto/x509"
	"encoding/pem"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

var tlsNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testTLSConfig() TLSConfig {
	return TLSConfig{
		Dir:      "/certs",
		IPs:      []net.IP{net.ParseIP("10.0.0.7"), net.ParseIP("127.0.0.1")},
		DNSNames: []string{"runner-abc"},
		ExtraSAN: "DNS:dind.ci.svc,IP:192.0.2.10",
		Now:      func() time.Time { return tlsNow },
	}
}

func mustCert(t *testing.T, fsys afero.Fs, path string) *x509.Certificate {
	t.Helper()
	cert, err := readCert(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// osCerts is a real directory for the certificate tree: symlinks, owners
// and modes need the OS file system (MemMapFs has none of them). The Fs is
// rooted there, so the tree is /certs in it and root/certs on disk.
func osCerts(t *testing.T) (fsys afero.Fs, root string) {
	t.Helper()
	root = t.TempDir()
	return afero.NewBasePathFs(afero.NewOsFs(), root), root
}

// assertLayout checks that the tree under root/certs holds exactly
// docker:dind's files, at docker:dind's modes: no temporary file is left.
func assertLayout(t *testing.T, root string) {
	t.Helper()
	want := map[string]string{
		"ca/cert.pem": "-rw-r--r--", "ca/key.pem": "-rw-------",
		"server/ca.pem": "-rw-r--r--", "server/cert.pem": "-rw-r--r--", "server/key.pem": "-rw-------",
		"client/ca.pem": "-rw-r--r--", "client/cert.pem": "-rw-r--r--", "client/key.pem": "-rw-r--r--",
	}
	got := map[string]string{}
	for _, dir := range []string{"ca", "server", "client"} {
		entries, err := os.ReadDir(filepath.Join(root, "certs", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			got[dir+"/"+e.Name()] = fi.Mode().String()
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("certificate files and modes = %v, want %v", got, want)
	}
}

func TestEnsureTLSGeneratesDindLayout(t *testing.T) {
	t.Parallel()
	fsys, root := osCerts(t)
	if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
		t.Fatalf("EnsureTLS: %v", err)
	}
	assertLayout(t, root)
	ca := mustCert(t, fsys, "/certs/ca/cert.pem")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server := mustCert(t, fsys, "/certs/server/cert.pem")
	if _, err := server.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: tlsNow, DNSName: "docker", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("server cert does not verify for docker/serverAuth: %v", err)
	}
	wantDNS := []string{"dind.ci.svc", "docker", "localhost", "runner-abc"}
	if !slices.Equal(server.DNSNames, wantDNS) {
		t.Errorf("server DNS SANs = %q, want %q", server.DNSNames, wantDNS)
	}
	var ips []string
	for _, ip := range server.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.0.0.7", "127.0.0.1", "192.0.2.10"}; !slices.Equal(ips, want) {
		t.Errorf("server IP SANs = %q, want %q", ips, want)
	}
	if got, want := server.NotAfter, tlsNow.Add(825*24*time.Hour); !got.Equal(want) {
		t.Errorf("server NotAfter = %s, want %s", got, want)
	}
	client := mustCert(t, fsys, "/certs/client/cert.pem")
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: tlsNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert does not verify for clientAuth: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: tlsNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Errorf("client cert verifies for serverAuth, want refused")
	}
	if got, want := ca.Subject.CommonName, "docker:dind CA"; got != want {
		t.Errorf("CA CN = %q, want %q", got, want)
	}
}

func TestEnsureTLSKeepsKeysAndCAOnRestart(t *testing.T) {
	t.Parallel()
	fsys, root := osCerts(t)
	cfg := testTLSConfig()
	if err := EnsureTLS(fsys, cfg); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := afero.ReadFile(fsys, p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	caKey, caCert, serverKey, serverCert := read("/certs/ca/key.pem"), read("/certs/ca/cert.pem"), read("/certs/server/key.pem"), read("/certs/server/cert.pem")
	cfg.IPs = append(cfg.IPs, net.ParseIP("10.0.0.8"))
	if err := EnsureTLS(fsys, cfg); err != nil {
		t.Fatal(err)
	}
	if read("/certs/ca/key.pem") != caKey || read("/certs/ca/cert.pem") != caCert || read("/certs/server/key.pem") != serverKey {
		t.Errorf("restart replaced a key or the CA certificate; clients holding ca.pem would break")
	}
	if read("/certs/server/cert.pem") == serverCert {
		t.Errorf("restart kept the old server certificate; the new address 10.0.0.8 is not covered")
	}
	assertLayout(t, root)
}

func TestEnsureTLSUserProvidedCertsAreOnlyVerified(t *testing.T) {
	t.Parallel()
	// A valid set without the CA key, as a user provides it; owners are
	// checked, so on a real directory.
	fsys, root := osCerts(t)
	userCerts(t, root)
	before, _ := afero.ReadFile(fsys, "/certs/server/cert.pem")
	if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
		t.Fatalf("EnsureTLS on user certs: %v", err)
	}
	after, _ := afero.ReadFile(fsys, "/certs/server/cert.pem")
	if string(before) != string(after) {
		t.Errorf("user-provided server cert was rewritten")
	}
	if ok, _ := afero.Exists(fsys, "/certs/client/cert.pem"); ok {
		t.Errorf("client cert generated although the user owns the CA")
	}

	// A server cert from another CA is refused by name.
	other := afero.NewMemMapFs()
	if err := EnsureTLS(other, testTLSConfig()); err != nil {
		t.Fatal(err)
	}
	foreign, _ := afero.ReadFile(other, "/certs/server/cert.pem")
	if err := afero.WriteFile(fsys, "/certs/server/cert.pem", foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	err := EnsureTLS(fsys, testTLSConfig())
	if err == nil || !strings.HasPrefix(err.Error(), "verify /certs/server/cert.pem against /certs/server/ca.pem: x509: certificate signed by unknown authority") {
		t.Errorf("EnsureTLS with a foreign server cert = %v, want a verify error naming both files", err)
	}
}

func TestEnsureTLSErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		san     string
		wantErr string
	}{
		{
			name:    "bad_san_item",
			san:     "DNS:ok,bogus",
			wantErr: `parse DOCKER_TLS_SAN item "bogus": want DNS:<name> or IP:<address>`,
		},
		{
			name:    "bad_san_ip",
			san:     "IP:300.1.1.1",
			wantErr: `parse DOCKER_TLS_SAN item "IP:300.1.1.1": want DNS:<name> or IP:<address>`,
		},
		{
			name:    "garbage_ca_key",
			files:   map[string]string{"/certs/ca/key.pem": "not a key\n"},
			wantErr: "parse private key /certs/ca/key.pem: no PEM block",
		},
		{
			name:    "user_cert_missing_key",
			files:   map[string]string{"/certs/ca/cert.pem": "x", "/certs/server/ca.pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}))},
			wantErr: "verify user-provided TLS certificates: parse /certs/server/ca.pem: x509: malformed certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys, root := osCerts(t)
			for p, c := range tt.files {
				writeFileMode(t, filepath.Join(root, p), c, 0o600)
			}
			cfg := testTLSConfig()
			cfg.ExtraSAN = tt.san
			err := EnsureTLS(fsys, cfg)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("EnsureTLS = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
