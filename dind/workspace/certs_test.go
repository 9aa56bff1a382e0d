package workspace

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
)

// testCert is a self-signed CA certificate in PEM.
func testCert(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestReadCAs(t *testing.T) {
	t.Parallel()
	ca1, ca2, ca3 := testCert(t, "one"), testCert(t, "two"), testCert(t, "three")
	key := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB5tT2kq\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name    string
		files   map[string]string
		path    string
		want    string
		wantN   int
		wantErr string
	}{
		{name: "one_file", files: map[string]string{"/certs/ca.pem": ca1}, path: "/certs/ca.pem", want: ca1, wantN: 1},
		{name: "bundle_with_text_and_key", files: map[string]string{"/certs/b.pem": "corporate roots\n" + ca1 + key + "\n" + ca2},
			path: "/certs/b.pem", want: ca1 + ca2, wantN: 2},
		{name: "directory_in_name_order_skipping_others", path: "/certs",
			files: map[string]string{"/certs/b.crt": ca2, "/certs/a.crt": ca1 + ca3, "/certs/README": "not a cert\n", "/certs/sub/c.crt": ca3},
			want:  ca1 + ca3 + ca2, wantN: 3},
		{name: "missing", path: "/nope", wantErr: "read CA certificates: open /nope: file does not exist"},
		{name: "file_without_certificate", files: map[string]string{"/certs/ca.pem": "hello\n"}, path: "/certs/ca.pem",
			wantErr: "read CA certificates: /certs/ca.pem holds no PEM certificate (want -----BEGIN CERTIFICATE-----)"},
		{name: "empty_directory", files: map[string]string{"/certs/sub/x": ca1}, path: "/certs",
			wantErr: "read CA certificates: /certs holds no PEM certificate (want -----BEGIN CERTIFICATE-----)"},
		{name: "broken_certificate", files: map[string]string{"/certs/ca.pem": ca1 + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
			path:    "/certs/ca.pem",
			wantErr: "read CA certificates from /certs/ca.pem: certificate 2: x509: malformed certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := afero.NewMemMapFs()
			for p, data := range tt.files {
				if err := afero.WriteFile(fs, p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, n, err := ReadCAs(fs, tt.path)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ReadCAs(%s) error = %v, want %q", tt.path, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want || n != tt.wantN {
				t.Errorf("ReadCAs(%s) = %d certificates, %v:\n%s\nwant %d:\n%s", tt.path, n, err, got, tt.wantN, tt.want)
			}
		})
	}
}

// TestReadCAsKubernetesVolume: a Secret or ConfigMap volume holds its
// files in ..data/ and names them through symlinks.
func TestReadCAsKubernetesVolume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testCert(t, "k8s")
	data := filepath.Join(dir, "..2026_12_02_13_00_00.1")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "ca.crt"), []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	for old, name := range map[string]string{filepath.Base(data): "..data", "..data/ca.crt": "ca.crt"} {
		if err := os.Symlink(old, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	got, n, err := ReadCAs(afero.NewOsFs(), dir)
	if err != nil || string(got) != ca || n != 1 {
		t.Errorf("ReadCAs(%s) = %d, %v:\n%s\nwant 1:\n%s", dir, n, err, got, ca)
	}
}

// TestReadCAsDevice: a device or a named pipe is refused before it is
// read (a pipe would block envbox before anything starts).
func TestReadCAsDevice(t *testing.T) {
	t.Parallel()
	want := "read CA certificates: /dev/null is not a regular file or a directory"
	if _, _, err := ReadCAs(afero.NewOsFs(), "/dev/null"); err == nil || err.Error() != want {
		t.Errorf("ReadCAs(/dev/null) error = %v, want %q", err, want)
	}
}

func TestWriteRegistryCA(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	pemData := []byte(testCert(t, "reg"))
	path, err := WriteRegistryCA(fs, DockerCertsDir, "192.0.2.1:5000", pemData)
	if err != nil || path != "/etc/docker/certs.d/192.0.2.1:5000/ca.crt" {
		t.Fatalf("WriteRegistryCA = %q, %v; want /etc/docker/certs.d/192.0.2.1:5000/ca.crt", path, err)
	}
	got, err := afero.ReadFile(fs, path)
	if err != nil || string(got) != string(pemData) {
		t.Errorf("%s = %q, %v; want the certificates", path, got, err)
	}
	fi, _ := fs.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s mode %04o, want 0644", path, fi.Mode().Perm())
	}
	if path, err := WriteRegistryCA(fs, DockerCertsDir, "docker.io", pemData); path != "" || err != nil {
		t.Errorf("WriteRegistryCA(docker.io) = %q, %v; want nothing written", path, err)
	}
	if ok, _ := afero.DirExists(fs, "/etc/docker/certs.d/docker.io"); ok {
		t.Error("WriteRegistryCA(docker.io) made a directory dockerd never reads")
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := WriteRegistryCA(fs, DockerCertsDir, bad, pemData); err == nil {
			t.Errorf("WriteRegistryCA(%q) wrote a file", bad)
		}
	}
}

// TestWriteRegistryCARefusesSymlinks: a planted symlink at the file or at
// the registry's directory is refused, and nothing is written through it.
func TestWriteRegistryCARefusesSymlinks(t *testing.T) {
	t.Parallel()
	for _, at := range []string{"file", "dir"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			certs, victim := filepath.Join(root, "certs.d"), filepath.Join(root, "victim")
			if err := os.MkdirAll(filepath.Join(certs, "reg:5000"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(victim, 0o755); err != nil {
				t.Fatal(err)
			}
			link, target := filepath.Join(certs, "reg:5000", "ca.crt"), filepath.Join(victim, "ca.crt")
			if at == "dir" {
				_ = os.Remove(filepath.Join(certs, "reg:5000"))
				link, target = filepath.Join(certs, "reg:5000"), victim
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			_, err := WriteRegistryCA(afero.NewOsFs(), certs, "reg:5000", []byte(testCert(t, "x")))
			var ue *dind.UnsafePathError
			if !errors.As(err, &ue) || ue.Path != link || !strings.Contains(err.Error(), "a symlink") {
				t.Errorf("WriteRegistryCA over a symlinked %s = %v, want an UnsafePathError for %s", at, err, link)
			}
			if entries, _ := os.ReadDir(victim); len(entries) != 0 {
				t.Errorf("written through the symlink: %s holds %v", victim, entries)
			}
		})
	}
}

func FuzzReadCAs(f *testing.F) {
	for _, s := range []string{"", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "text"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := afero.NewMemMapFs()
		_ = afero.WriteFile(fs, "/ca.pem", []byte(s), 0o644)
		if _, _, err := ReadCAs(fs, "/ca.pem"); err != nil && !strings.Contains(err.Error(), "/ca.pem") {
			t.Errorf("ReadCAs error %q does not name /ca.pem", err)
		}
	})
}

// TestReadCAsBounded: a path to a huge or endless file (a mistyped
// CODER_EXTRA_CERTS_PATH, /proc/self/pagemap) is refused after
// maxCABytes, all files together, instead of exhausting memory before
// anything starts.
func TestReadCAsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testCert(t, "big")
	big := filepath.Join(dir, "b.pem")
	if err := os.WriteFile(big, []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	// Sparse: maxCABytes+1 bytes on no disk.
	if err := os.Truncate(big, maxCABytes+1); err != nil {
		t.Fatal(err)
	}
	want := "read CA certificates: " + big + " makes the certificates larger than 16777216 bytes (16 MiB)"
	if _, _, err := ReadCAs(afero.NewOsFs(), big); err == nil || err.Error() != want {
		t.Errorf("ReadCAs(%s) error = %v, want %q", big, err, want)
	}
	// Together: the second file passes the bound.
	if err := os.Truncate(big, maxCABytes-int64(len(ca))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.pem"), []byte(ca+ca), 0o644); err != nil {
		t.Fatal(err)
	}
	want = "read CA certificates: " + big + " makes the certificates larger than 16777216 bytes (16 MiB)"
	if _, _, err := ReadCAs(afero.NewOsFs(), dir); err == nil || err.Error() != want {
		t.Errorf("ReadCAs(%s) error = %v, want %q", dir, err, want)
	}
}

// regularLiar reports every name as a regular file: the name was swapped
// for a named pipe between envbox's stat and its open.
type regularLiar struct{ afero.Fs }

type regularInfo struct{ os.FileInfo }

func (regularInfo) Mode() os.FileMode { return 0o644 }
func (regularInfo) IsDir() bool       { return false }

func (l regularLiar) Stat(name string) (os.FileInfo, error) {
	fi, err := l.Fs.Stat(name)
	if err != nil {
		return nil, err
	}
	return regularInfo{fi}, nil
}

// TestReadCAsSwappedForPipe: what is opened is checked, and opened
// without blocking: a pipe swapped in after the stat does not hang envbox.
func TestReadCAsSwappedForPipe(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "ca.pem")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // unblock a reader left by a failing run
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			_ = f.Close()
		}
	})
	done := make(chan error, 1)
	go func() {
		_, _, err := ReadCAs(regularLiar{afero.NewOsFs()}, fifo)
		done <- err
	}()
	want := "read CA certificates: " + fifo + " is not a regular file (mode prw-r--r--)"
	select {
	case err := <-done:
		if err == nil || err.Error() != want {
			t.Errorf("ReadCAs(%s) error = %v, want %q", fifo, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadCAs(%s) blocked on a named pipe", fifo)
	}
}

// TestWriteRegistryCARefusesForeignParents: every directory above the
// file counts, not only the registry's: a symlink another user owns (or
// a directory another user owns or may rename entries in) at
// /etc/docker/certs.d would send root's write wherever it points.
func TestWriteRegistryCARefusesForeignParents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	t.Parallel()
	for _, tt := range []struct{ name, reason string }{
		{"foreign_symlink", "a symlink owned by uid 4242, neither root nor the user envbox runs as"},
		{"foreign_dir", "owned by uid 4242, neither root nor the user envbox runs as"},
		{"others_rename", "mode 0777 lets other users rename its entries"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			docker, victim := filepath.Join(root, "docker"), filepath.Join(root, "victim")
			certs := filepath.Join(docker, "certs.d")
			for _, d := range []string{docker, victim} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			at := certs
			switch tt.name {
			case "foreign_symlink":
				if err := os.Symlink(victim, certs); err != nil {
					t.Fatal(err)
				}
				if err := os.Lchown(certs, 4242, 4242); err != nil {
					t.Fatal(err)
				}
			case "foreign_dir":
				if err := os.Mkdir(certs, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(certs, 4242, 4242); err != nil {
					t.Fatal(err)
				}
			case "others_rename":
				at = docker
				if err := os.Chmod(docker, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			_, err := WriteRegistryCA(afero.NewOsFs(), certs, "reg:5000", []byte(testCert(t, "x")))
			var ue *dind.UnsafePathError
			if !errors.As(err, &ue) || ue.Path != at || ue.Reason != tt.reason {
				t.Errorf("WriteRegistryCA under %s = %v, want an UnsafePathError for %s: %s", tt.name, err, at, tt.reason)
			}
			if entries, _ := os.ReadDir(victim); len(entries) != 0 {
				t.Errorf("written through the symlink: %s holds %v", victim, entries)
			}
		})
	}
}
