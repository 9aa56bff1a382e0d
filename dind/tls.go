package dind

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// certValidity matches docker:dind (825 days: the most Apple clients accept).
const certValidity = 825 * 24 * time.Hour

// TLSConfig says where and for which names the dockerd certificates are made.
type TLSConfig struct {
	Dir string
	// IPs and DNSNames become the server certificate's SANs, with "docker"
	// and "localhost" always added.
	IPs      []net.IP
	DNSNames []string
	// ExtraSAN is DOCKER_TLS_SAN: "DNS:name" / "IP:addr" items separated by
	// commas or spaces.
	ExtraSAN string
	Now      func() time.Time
}

// EnsureTLS lays out Dir like docker:dind's DOCKER_TLS_CERTDIR: ca/, server/
// and client/ each with ca.pem, cert.pem, key.pem. With a CA key present (or
// no CA at all) envbox manages the CA and reissues the server and client
// certificates at every start, so new addresses are covered; see tlsfile.go
// for what it refuses in that tree. Without a CA key the certificates are
// the user's: they are only verified.
func EnsureTLS(fsys afero.Fs, cfg TLSConfig) error {
	sans, err := cfg.sans()
	if err != nil {
		return err
	}
	if err := checkCertRoot(fsys, cfg.Dir); err != nil {
		return err
	}
	user, err := userProvided(fsys, cfg.Dir)
	if err != nil {
		return err
	}
	if user {
		// dockerd trusts the CA in server/: only envbox's user may
		// have put it there. A dir others could have changed before
		// envbox looked is refused, not made sticky.
		for _, sub := range []string{"ca", "server"} {
			dir := filepath.Join(cfg.Dir, sub)
			fi, err := certDir(fsys, dir)
			if err != nil {
				return err
			}
			if fi != nil && othersReplace(fi) {
				return &UnsafePathError{Path: dir, Reason: fmt.Sprintf("mode %04o lets other users replace its files", fi.Mode().Perm()), Fix: "chmod o-w (or +t) it"}
			}
		}
		return verifyUserCerts(fsys, cfg.Dir, cfg.now())
	}
	keys := keyFiles(cfg.Dir)
	if err := checkTree(fsys, cfg.Dir, keys); err != nil {
		return err
	}
	// Every existing key is judged before anything is made or written: a
	// refusal leaves the tree as it was.
	stored := make([]*storedKey, len(keys))
	for i, k := range keys {
		if stored[i], err = loadKey(fsys, k); err != nil {
			return err
		}
	}
	if err := makeTree(fsys, cfg.Dir); err != nil {
		return err
	}
	ca, caKey, err := ensureCA(fsys, keys[0], stored[0], filepath.Join(cfg.Dir, "ca/cert.pem"), cfg.now())
	if err != nil {
		return err
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "docker:dind server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    sans.dns,
		IPAddresses: sans.ips,
	}
	if err := issue(fsys, keys[1], stored[1], server, ca, caKey, cfg.now()); err != nil {
		return err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "docker:dind client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return issue(fsys, keys[2], stored[2], client, ca, caKey, cfg.now())
}

// keyFiles are the CA, server and client keys under dir.
func keyFiles(dir string) []keyFile {
	caKey, caCert := filepath.Join(dir, "ca/key.pem"), filepath.Join(dir, "ca/cert.pem")
	remakeCert := "remove it and envbox makes a new key and certificate"
	return []keyFile{
		{path: caKey, mode: 0o600, fix: fmt.Sprintf("remove it and %s, and envbox makes a new CA", caCert)},
		{path: filepath.Join(dir, "server/key.pem"), mode: 0o600, fix: remakeCert},
		// The client key is shared with other containers mounting the
		// volume, which run as arbitrary users: readable by all, as
		// docker:dind does.
		{path: filepath.Join(dir, "client/key.pem"), mode: 0o644, fix: remakeCert},
	}
}

// userProvided says whether the certificates are the user's: a CA
// certificate without a CA key, as docker:dind decides. The CA key is
// envbox's to judge and never followed; the CA certificate may be a
// symlink (a Kubernetes Secret volume is made of them).
func userProvided(fsys afero.Fs, dir string) (bool, error) {
	caKey := keyFiles(dir)[0]
	fi, err := checkTreeFile(fsys, caKey.path, caKey.fix)
	if err != nil || (fi != nil && fi.Size() > 0) {
		return false, err
	}
	return nonEmpty(fsys, filepath.Join(dir, "ca/cert.pem"))
}

var certDirs = []string{"ca", "server", "client"}

// checkTree refuses, wherever envbox writes, a symlink, a non-regular file
// or a directory others can change.
func checkTree(fsys afero.Fs, dir string, keys []keyFile) error {
	for _, sub := range certDirs {
		if err := checkCertDir(fsys, filepath.Join(dir, sub), false); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if _, err := checkTreeFile(fsys, k.path, k.fix); err != nil {
			return err
		}
	}
	for _, name := range []string{"ca/cert.pem", "server/cert.pem", "server/ca.pem", "client/cert.pem", "client/ca.pem"} {
		if _, err := checkTreeFile(fsys, filepath.Join(dir, name), fixRemake); err != nil {
			return err
		}
	}
	return nil
}

// makeTree makes the missing directories, checking again those that exist.
func makeTree(fsys afero.Fs, dir string) error {
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	for _, sub := range certDirs {
		if err := checkCertDir(fsys, filepath.Join(dir, sub), true); err != nil {
			return err
		}
	}
	return nil
}

func (cfg TLSConfig) now() time.Time {
	if cfg.Now == nil {
		return time.Now()
	}
	return cfg.Now()
}

type sanSet struct {
	dns []string
	ips []net.IP
}

func (cfg TLSConfig) sans() (sanSet, error) {
	s := sanSet{dns: []string{"docker", "localhost"}}
	s.dns = append(s.dns, cfg.DNSNames...)
	s.ips = append(s.ips, cfg.IPs...)
	for _, item := range strings.FieldsFunc(cfg.ExtraSAN, func(r rune) bool { return r == ',' || r == ' ' }) {
		kind, val, ok := strings.Cut(item, ":")
		switch {
		case ok && kind == "DNS" && val != "":
			s.dns = append(s.dns, val)
		case ok && kind == "IP" && net.ParseIP(val) != nil:
			s.ips = append(s.ips, net.ParseIP(val))
		default:
			return sanSet{}, fmt.Errorf("parse %s item %q: want DNS:<name> or IP:<address>", EnvTLSSAN, item)
		}
	}
	slices.Sort(s.dns)
	s.dns = slices.Compact(s.dns)
	s.ips = uniqueIPs(s.ips)
	return s, nil
}

func uniqueIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if !slices.ContainsFunc(out, ip.Equal) {
			out = append(out, ip)
		}
	}
	return out
}

// ensureCA keeps a CA certificate that matches the CA key and is valid for
// 30 more days, and makes a new one otherwise.
func ensureCA(fsys afero.Fs, k keyFile, stored *storedKey, certPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := useKey(fsys, k, stored)
	if err != nil {
		return nil, nil, err
	}
	if cert, err := readCert(fsys, certPath); err == nil && now.Add(30*24*time.Hour).Before(cert.NotAfter) && publicKeyMatches(cert, key) {
		return cert, key, nil
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "docker:dind CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := sign(tmpl, tmpl, key.Public(), key, now)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate %s: %w", certPath, err)
	}
	if err := writePEM(fsys, certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue rewrites the ca.pem and cert.pem beside k for tmpl signed by the
// CA, with k's stored key or a new one.
func issue(fsys afero.Fs, k keyFile, stored *storedKey, tmpl *x509.Certificate, ca *x509.Certificate, caKey crypto.Signer, now time.Time) error {
	key, err := useKey(fsys, k, stored)
	if err != nil {
		return err
	}
	dir := filepath.Dir(k.path)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := sign(tmpl, ca, key.Public(), caKey, now)
	if err != nil {
		return fmt.Errorf("sign %s certificate: %w", dir, err)
	}
	if err := writePEM(fsys, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writePEM(fsys, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw, 0o644)
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(certValidity)
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}

func publicKeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// readCert reads the certificate at path, which must be a regular file
// (a user's may be reached through a symlink).
func readCert(fsys afero.Fs, path string) (*x509.Certificate, error) {
	f, fi, err := openStat(fsys, path, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: %s", path, notRegular(fi))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("parse %s: no CERTIFICATE PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return cert, nil
}

// verifyUserCerts checks certificates the user provided without a CA key:
// envbox never overwrites them.
func verifyUserCerts(fsys afero.Fs, dir string, now time.Time) error {
	caPath, certPath := filepath.Join(dir, "server/ca.pem"), filepath.Join(dir, "server/cert.pem")
	ca, err := readCert(fsys, caPath)
	if err != nil {
		return fmt.Errorf("verify user-provided TLS certificates: %w", err)
	}
	cert, err := readCert(fsys, certPath)
	if err != nil {
		return fmt.Errorf("verify user-provided TLS certificates: %w", err)
	}
	if ok, err := nonEmpty(fsys, filepath.Join(dir, "server/key.pem")); err != nil || !ok {
		return fmt.Errorf("verify user-provided TLS certificates: %s is missing or empty", filepath.Join(dir, "server/key.pem"))
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := cert.Verify(opts); err != nil {
		return fmt.Errorf("verify %s against %s: %w", certPath, caPath, err)
	}
	return nil
}

func nonEmpty(fsys afero.Fs, path string) (bool, error) {
	st, err := fsys.Stat(path)
	if missing(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Size() > 0, nil
}
