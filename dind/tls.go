package dind

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
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
// certificates at every start, so new addresses are covered. Without a CA
// key the certificates are the user's: they are only verified.
func EnsureTLS(fsys afero.Fs, cfg TLSConfig) error {
	sans, err := cfg.sans()
	if err != nil {
		return err
	}
	caKeyPath, caCertPath := filepath.Join(cfg.Dir, "ca/key.pem"), filepath.Join(cfg.Dir, "ca/cert.pem")
	hasCAKey, err := nonEmpty(fsys, caKeyPath)
	if err != nil {
		return err
	}
	hasCACert, err := nonEmpty(fsys, caCertPath)
	if err != nil {
		return err
	}
	if !hasCAKey && hasCACert {
		return verifyUserCerts(fsys, cfg.Dir, cfg.now())
	}
	ca, caKey, err := ensureCA(fsys, caKeyPath, caCertPath, cfg.now())
	if err != nil {
		return err
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "docker:dind server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    sans.dns,
		IPAddresses: sans.ips,
	}
	if err := issue(fsys, filepath.Join(cfg.Dir, "server"), server, 0o600, ca, caKey, cfg.now()); err != nil {
		return err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "docker:dind client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	// The client key is shared with other containers mounting the volume,
	// which run as arbitrary users: readable by all, as docker:dind does.
	return issue(fsys, filepath.Join(cfg.Dir, "client"), client, 0o644, ca, caKey, cfg.now())
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

func ensureCA(fsys afero.Fs, keyPath, certPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ensureKey(fsys, keyPath, 0o600)
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

// issue (re)writes dir/{key,cert,ca}.pem for tmpl signed by the CA, keeping
// an existing key.
func issue(fsys afero.Fs, dir string, tmpl *x509.Certificate, keyMode os.FileMode, ca *x509.Certificate, caKey crypto.Signer, now time.Time) error {
	key, err := ensureKey(fsys, filepath.Join(dir, "key.pem"), keyMode)
	if err != nil {
		return err
	}
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

// ensureKey reads the PEM private key at path, creating a P-256 key when
// the file is missing or empty.
func ensureKey(fsys afero.Fs, path string, mode os.FileMode) (crypto.Signer, error) {
	data, err := afero.ReadFile(fsys, path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > 0 {
		key, err := parseKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse private key %s: %w", path, err)
		}
		return key, fsys.Chmod(path, mode)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", path, err)
	}
	return key, writePEM(fsys, path, "PRIVATE KEY", der, mode)
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

func readCert(fsys afero.Fs, path string) (*x509.Certificate, error) {
	data, err := afero.ReadFile(fsys, path)
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
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Size() > 0, nil
}

func writePEM(fsys afero.Fs, path, typ string, der []byte, mode os.FileMode) error {
	if err := fsys.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Dir(path), err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := afero.WriteFile(fsys, path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file; the mode is part of the
	// contract (the client key must be shareable).
	if err := fsys.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s %o: %w", path, mode, err)
	}
	return nil
}
