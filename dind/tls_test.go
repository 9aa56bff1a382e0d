package dind

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// Make a valid set elsewhere, then drop the CA key as a user would.
	src := afero.NewMemMapFs()
	if err := EnsureTLS(src, testTLSConfig()); err != nil {
		t.Fatal(err)
	}
	fsys := afero.NewMemMapFs()
	for _, p := range []string{"/certs/ca/cert.pem", "/certs/server/ca.pem", "/certs/server/cert.pem", "/certs/server/key.pem"} {
		b, _ := afero.ReadFile(src, p)
		if err := afero.WriteFile(fsys, p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
				writeMode(t, filepath.Join(root, p), c, 0o600)
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

// writeMode writes content to path at mode, whatever the umask.
func writeMode(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// node is what snapshot records of a name: mode, owner, and a symlink's
// target or a regular file's bytes.
type node struct {
	mode    fs.FileMode
	uid     uint32
	target  string
	content string
}

func (n node) String() string {
	s := fmt.Sprintf("%s uid %d", n.mode, n.uid)
	if n.target != "" {
		s += " -> " + n.target
	}
	if n.mode.IsRegular() {
		s += fmt.Sprintf(" %d bytes %q", len(n.content), n.content[:min(len(n.content), 28)])
	}
	return s
}

// snapshot records every name under root.
func snapshot(t *testing.T, root string) map[string]node {
	t.Helper()
	got := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := node{mode: fi.Mode(), uid: fi.Sys().(*syscall.Stat_t).Uid}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			n.target, err = os.Readlink(p)
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			n.content = string(b)
		}
		got[strings.TrimPrefix(p, root)] = n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// assertUnchanged reports every name that appeared, disappeared or
// changed between two snapshots.
func assertUnchanged(t *testing.T, before, after map[string]node) {
	t.Helper()
	names := maps.Clone(before)
	maps.Copy(names, after)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		b, inBefore := before[name]
		a, inAfter := after[name]
		switch {
		case !inBefore:
			t.Errorf("%s appeared: %s", name, a)
		case !inAfter:
			t.Errorf("%s disappeared: was %s", name, b)
		case a != b:
			t.Errorf("%s changed: was %s, now %s", name, b, a)
		}
	}
}

// treeCase is a certificate tree that another user may have prepared.
type treeCase struct {
	name string
	// prior: a first EnsureTLS made the whole tree before setup.
	prior bool
	// rootOnly: setup gives a file to another user.
	rootOnly bool
	// setup prepares root/certs (root is outside the tree).
	setup func(t *testing.T, root string)
	// held is a pre-created empty file opened before EnsureTLS and read
	// after it: what its opener gets.
	held    string
	wantErr string
}

// runTreeCase runs EnsureTLS on tc's tree: a refusal must name the path,
// say the fix and leave every file (and every symlink's target) as it was;
// a success must leave docker:dind's layout and keep the existing keys.
func runTreeCase(t *testing.T, tc treeCase) {
	t.Helper()
	if tc.rootOnly && os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	fsys, root := osCerts(t)
	if tc.prior {
		if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
			t.Fatal(err)
		}
	}
	tc.setup(t, root)
	var held *os.File
	if tc.held != "" {
		f, err := os.Open(filepath.Join(root, tc.held))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		held = f
	}
	before := snapshot(t, root)
	err := EnsureTLS(fsys, testTLSConfig())
	if got := fmt.Sprint(err); (err == nil) != (tc.wantErr == "") || (err != nil && got != tc.wantErr) {
		t.Errorf("EnsureTLS = %v, want %q", err, tc.wantErr)
	}
	after := snapshot(t, root)
	if tc.wantErr != "" {
		assertUnchanged(t, before, after)
	}
	if tc.wantErr == "" {
		assertLayout(t, root)
		for _, key := range []string{"/certs/ca/key.pem", "/certs/server/key.pem", "/certs/client/key.pem"} {
			if old := before[key].content; old != "" && after[key].content != old {
				t.Errorf("%s was replaced: before %q, after %q", key, old, after[key].content)
			}
		}
	}
	if held != nil {
		// Only the length: what it reads may be a private key.
		if b, err := io.ReadAll(held); err != nil || len(b) != 0 {
			t.Errorf("the opener of the pre-created %s reads %d bytes (%v), want none: a key was written into it", tc.held, len(b), err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mkdirMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureTLSRefusesSymlinksAndSpecialFiles(t *testing.T) {
	t.Parallel()
	tests := []treeCase{
		{
			// The reported case: the symlink's target was overwritten
			// and made 0644.
			name:  "client_cert_symlink_to_private_file",
			prior: true,
			setup: func(t *testing.T, root string) {
				writeMode(t, filepath.Join(root, "secret"), "secret\n", 0o600)
				remove(t, filepath.Join(root, "certs/client/cert.pem"))
				symlink(t, filepath.Join(root, "secret"), filepath.Join(root, "certs/client/cert.pem"))
			},
			wantErr: "refuse /certs/client/cert.pem: a symlink; remove it and envbox makes it again",
		},
		{
			name: "server_dir_symlink",
			setup: func(t *testing.T, root string) {
				mkdirMode(t, filepath.Join(root, "certs"), 0o755)
				mkdirMode(t, filepath.Join(root, "elsewhere"), 0o700)
				symlink(t, filepath.Join(root, "elsewhere"), filepath.Join(root, "certs/server"))
			},
			wantErr: "refuse /certs/server: a symlink, want a directory; remove it and envbox makes it again",
		},
		{
			name: "ca_key_symlink",
			setup: func(t *testing.T, root string) {
				writeMode(t, filepath.Join(root, "elsewhere"), "", 0o600)
				mkdirMode(t, filepath.Join(root, "certs/ca"), 0o755)
				symlink(t, filepath.Join(root, "elsewhere"), filepath.Join(root, "certs/ca/key.pem"))
			},
			wantErr: "refuse /certs/ca/key.pem: a symlink; remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			name:  "server_key_dangling_symlink",
			prior: true,
			setup: func(t *testing.T, root string) {
				remove(t, filepath.Join(root, "certs/server/key.pem"))
				symlink(t, filepath.Join(root, "nothing"), filepath.Join(root, "certs/server/key.pem"))
			},
			wantErr: "refuse /certs/server/key.pem: a symlink; remove it and envbox makes a new key and certificate",
		},
		{
			name:  "server_ca_named_pipe",
			prior: true,
			setup: func(t *testing.T, root string) {
				p := filepath.Join(root, "certs/server/ca.pem")
				remove(t, p)
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "refuse /certs/server/ca.pem: not a regular file (mode prw-r--r--); remove it and envbox makes it again",
		},
		{
			name:    "client_key_directory",
			setup:   func(t *testing.T, root string) { mkdirMode(t, filepath.Join(root, "certs/client/key.pem"), 0o755) },
			wantErr: "refuse /certs/client/key.pem: not a regular file (mode drwxr-xr-x); remove it and envbox makes a new key and certificate",
		},
		{
			name:    "ca_file_for_dir",
			setup:   func(t *testing.T, root string) { writeMode(t, filepath.Join(root, "certs/ca"), "", 0o644) },
			wantErr: "refuse /certs/ca: not a directory (mode -rw-r--r--); remove it and envbox makes it again",
		},
		{
			// Another user's directory: they could swap server/ca.pem
			// for their own CA before dockerd reads it.
			name:     "server_dir_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				mkdirMode(t, filepath.Join(root, "certs/server"), 0o755)
				chown(t, filepath.Join(root, "certs/server"), 1000)
			},
			wantErr: "refuse /certs/server: owned by uid 1000, not 0 (the user envbox runs as); remove it and envbox makes it again",
		},
		{
			name:    "client_dir_world_writable",
			setup:   func(t *testing.T, root string) { mkdirMode(t, filepath.Join(root, "certs/client"), 0o777) },
			wantErr: "refuse /certs/client: mode 0777 lets other users replace its files; chmod o-w (or +t) it",
		},
		{
			// docker:dind's image makes /certs and /certs/client 1777.
			name: "dind_sticky_dirs_accepted",
			setup: func(t *testing.T, root string) {
				mkdirMode(t, filepath.Join(root, "certs"), 0o777|fs.ModeSticky)
				mkdirMode(t, filepath.Join(root, "certs/client"), 0o777|fs.ModeSticky)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runTreeCase(t, tc)
		})
	}
}

func TestEnsureTLSPreCreatedKeys(t *testing.T) {
	t.Parallel()
	tests := []treeCase{
		{
			// The reported case: the new CA key was written into the
			// world-readable file, and its opener read it.
			name:    "ca_key_empty_world_readable_held_open",
			setup:   func(t *testing.T, root string) { writeMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o644) },
			held:    "certs/ca/key.pem",
			wantErr: "refuse /certs/ca/key.pem: mode 0644 lets other users read it; remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			// Even a private empty file gets a new inode: its opener
			// reads nothing.
			name:  "ca_key_empty_private_held_open",
			setup: func(t *testing.T, root string) { writeMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o600) },
			held:  "certs/ca/key.pem",
		},
		{
			name:     "ca_key_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				writeMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o600)
				chown(t, filepath.Join(root, "certs/ca/key.pem"), 1000)
			},
			wantErr: "refuse /certs/ca/key.pem: owned by uid 1000, not 0 (the user envbox runs as); remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			// The certificate of a refused key stays as it was, unused:
			// envbox exits and dockerd never starts.
			name:    "server_key_made_world_readable",
			prior:   true,
			setup:   func(t *testing.T, root string) { chmod(t, filepath.Join(root, "certs/server/key.pem"), 0o644) },
			wantErr: "refuse /certs/server/key.pem: mode 0644 lets other users read it; remove it and envbox makes a new key and certificate",
		},
		{
			name:    "server_key_world_writable",
			prior:   true,
			setup:   func(t *testing.T, root string) { chmod(t, filepath.Join(root, "certs/server/key.pem"), 0o602) },
			wantErr: "refuse /certs/server/key.pem: mode 0602 lets other users write it; remove it and envbox makes a new key and certificate",
		},
		{
			name:    "client_key_world_writable",
			prior:   true,
			setup:   func(t *testing.T, root string) { chmod(t, filepath.Join(root, "certs/client/key.pem"), 0o666) },
			wantErr: "refuse /certs/client/key.pem: mode 0666 lets other users write it; remove it and envbox makes a new key and certificate",
		},
		{
			name:  "keys_reused",
			prior: true,
			setup: func(t *testing.T, root string) {},
		},
		{
			// Group bits are the operator's; the key comes back at 0600.
			name:  "server_key_group_readable_reused",
			prior: true,
			setup: func(t *testing.T, root string) { chmod(t, filepath.Join(root, "certs/server/key.pem"), 0o640) },
		},
		{
			// The client key is shared as docker:dind shares it.
			name:  "client_key_private_made_shareable",
			prior: true,
			setup: func(t *testing.T, root string) { chmod(t, filepath.Join(root, "certs/client/key.pem"), 0o600) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runTreeCase(t, tc)
		})
	}
}

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// A sidecar sharing /certs reads the certificates while envbox (re)starts:
// it must always find a whole certificate, never a truncated or half-written
// file, nor a missing one.
func TestEnsureTLSReadersNeverSeeTornFiles(t *testing.T) {
	t.Parallel()
	fsys, root := osCerts(t)
	cfg := testTLSConfig()
	if err := EnsureTLS(fsys, cfg); err != nil {
		t.Fatal(err)
	}
	stop, torn := make(chan struct{}), make(chan string, 1)
	var reads atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		names := []string{"client/cert.pem", "client/ca.pem", "server/cert.pem", "server/ca.pem"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(root, "certs", names[i%len(names)])
			data, err := os.ReadFile(p)
			reads.Add(1)
			if err != nil {
				torn <- err.Error()
				return
			}
			if block, _ := pem.Decode(data); block == nil {
				torn <- fmt.Sprintf("%s: %d bytes, no whole PEM block", p, len(data))
				return
			} else if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				torn <- fmt.Sprintf("%s: %v", p, err)
				return
			}
		}
	}()
	// Every start reissues the server and client certificates.
	var failure string
	for i := 0; i < 50 && failure == ""; i++ {
		if err := EnsureTLS(fsys, cfg); err != nil {
			failure = "EnsureTLS: " + err.Error()
		}
		select {
		case msg := <-torn:
			failure = fmt.Sprintf("after %d starts a reader saw %s", i+1, msg)
		default:
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-torn:
		failure = "a reader saw " + msg
	default:
	}
	if failure != "" {
		t.Fatal(failure)
	}
	t.Logf("50 starts, %d whole reads", reads.Load())
}

// A Kubernetes Secret volume is made of symlinks (cert.pem -> ..data/cert.pem,
// ..data -> ..<timestamp>): user-provided certificates are only read, so
// they may be reached through them.
func TestEnsureTLSUserProvidedThroughSecretSymlinks(t *testing.T) {
	t.Parallel()
	src := afero.NewMemMapFs()
	if err := EnsureTLS(src, testTLSConfig()); err != nil {
		t.Fatal(err)
	}
	fsys, root := osCerts(t)
	for dir, names := range map[string][]string{"ca": {"cert.pem"}, "server": {"ca.pem", "cert.pem", "key.pem"}} {
		d := filepath.Join(root, "certs", dir)
		for _, name := range names {
			b, err := afero.ReadFile(src, "/certs/"+dir+"/"+name)
			if err != nil {
				t.Fatal(err)
			}
			writeMode(t, filepath.Join(d, "..2026_11_25_12_00_00.1", name), string(b), 0o644)
			symlink(t, filepath.Join("..data", name), filepath.Join(d, name))
		}
		symlink(t, "..2026_11_25_12_00_00.1", filepath.Join(d, "..data"))
	}
	before := snapshot(t, root)
	if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
		t.Fatalf("EnsureTLS on a Secret volume: %v", err)
	}
	after := snapshot(t, root)
	assertUnchanged(t, before, after)
}
