package dind

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// Certificate trees another user may have prepared, on a real directory.

// writeFileMode writes content to path at mode, whatever the umask.
func writeFileMode(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, path, mode)
}

// treeNode is what snapshotTree records of a name: mode, owner, and a symlink's
// target or a regular file's bytes.
type treeNode struct {
	mode    fs.FileMode
	uid     uint32
	target  string
	content string
}

func (n treeNode) String() string {
	s := fmt.Sprintf("%s uid %d", n.mode, n.uid)
	if n.target != "" {
		s += " -> " + n.target
	}
	if n.mode.IsRegular() {
		s += fmt.Sprintf(" %d bytes %q", len(n.content), n.content[:min(len(n.content), 28)])
	}
	return s
}

// snapshotTree records every name under root.
func snapshotTree(t *testing.T, root string) map[string]treeNode {
	t.Helper()
	got := map[string]treeNode{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := treeNode{mode: fi.Mode(), uid: fi.Sys().(*syscall.Stat_t).Uid}
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
func assertUnchanged(t *testing.T, before, after map[string]treeNode) {
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
	before := snapshotTree(t, root)
	err := EnsureTLS(fsys, testTLSConfig())
	if got := fmt.Sprint(err); (err == nil) != (tc.wantErr == "") || (err != nil && got != tc.wantErr) {
		t.Errorf("EnsureTLS = %v, want %q", err, tc.wantErr)
	}
	after := snapshotTree(t, root)
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

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, path, mode)
}

func mustChown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func mustChmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
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
				writeFileMode(t, filepath.Join(root, "secret"), "secret\n", 0o600)
				mustRemove(t, filepath.Join(root, "certs/client/cert.pem"))
				mustSymlink(t, filepath.Join(root, "secret"), filepath.Join(root, "certs/client/cert.pem"))
			},
			wantErr: "refuse /certs/client/cert.pem: a symlink; remove it and envbox makes it again",
		},
		{
			name: "server_dir_symlink",
			setup: func(t *testing.T, root string) {
				mustMkdir(t, filepath.Join(root, "certs"), 0o755)
				mustMkdir(t, filepath.Join(root, "elsewhere"), 0o700)
				mustSymlink(t, filepath.Join(root, "elsewhere"), filepath.Join(root, "certs/server"))
			},
			wantErr: "refuse /certs/server: a symlink, want a directory; remove it and envbox makes it again",
		},
		{
			name: "ca_key_symlink",
			setup: func(t *testing.T, root string) {
				writeFileMode(t, filepath.Join(root, "elsewhere"), "", 0o600)
				mustMkdir(t, filepath.Join(root, "certs/ca"), 0o755)
				mustSymlink(t, filepath.Join(root, "elsewhere"), filepath.Join(root, "certs/ca/key.pem"))
			},
			wantErr: "refuse /certs/ca/key.pem: a symlink; remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			name:  "server_key_dangling_symlink",
			prior: true,
			setup: func(t *testing.T, root string) {
				mustRemove(t, filepath.Join(root, "certs/server/key.pem"))
				mustSymlink(t, filepath.Join(root, "nothing"), filepath.Join(root, "certs/server/key.pem"))
			},
			wantErr: "refuse /certs/server/key.pem: a symlink; remove it and envbox makes a new key and certificate",
		},
		{
			name:  "server_ca_named_pipe",
			prior: true,
			setup: func(t *testing.T, root string) {
				p := filepath.Join(root, "certs/server/ca.pem")
				mustRemove(t, p)
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatal(err)
				}
				mustChmod(t, p, 0o644)
			},
			wantErr: "refuse /certs/server/ca.pem: not a regular file (mode prw-r--r--); remove it and envbox makes it again",
		},
		{
			name:    "client_key_directory",
			setup:   func(t *testing.T, root string) { mustMkdir(t, filepath.Join(root, "certs/client/key.pem"), 0o755) },
			wantErr: "refuse /certs/client/key.pem: not a regular file (mode drwxr-xr-x); remove it and envbox makes a new key and certificate",
		},
		{
			name:    "ca_file_for_dir",
			setup:   func(t *testing.T, root string) { writeFileMode(t, filepath.Join(root, "certs/ca"), "", 0o644) },
			wantErr: "refuse /certs/ca: not a directory (mode -rw-r--r--); remove it and envbox makes it again",
		},
		{
			// Another user's directory: they could swap server/ca.pem
			// for their own CA before dockerd reads it.
			name:     "server_dir_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				mustMkdir(t, filepath.Join(root, "certs/server"), 0o755)
				mustChown(t, filepath.Join(root, "certs/server"), 1000)
			},
			wantErr: "refuse /certs/server: owned by uid 1000, not 0 (the user envbox runs as); remove it and envbox makes it again",
		},
		{
			// docker:dind's image makes /certs and /certs/client 1777.
			name: "dind_sticky_dirs_accepted",
			setup: func(t *testing.T, root string) {
				mustMkdir(t, filepath.Join(root, "certs"), 0o777|fs.ModeSticky)
				mustMkdir(t, filepath.Join(root, "certs/client"), 0o777|fs.ModeSticky)
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
			setup:   func(t *testing.T, root string) { writeFileMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o644) },
			held:    "certs/ca/key.pem",
			wantErr: "refuse /certs/ca/key.pem: mode 0644 lets other users read it; remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			// Even a private empty file gets a new inode: its opener
			// reads nothing.
			name:  "ca_key_empty_private_held_open",
			setup: func(t *testing.T, root string) { writeFileMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o600) },
			held:  "certs/ca/key.pem",
		},
		{
			name:     "ca_key_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				writeFileMode(t, filepath.Join(root, "certs/ca/key.pem"), "", 0o600)
				mustChown(t, filepath.Join(root, "certs/ca/key.pem"), 1000)
			},
			wantErr: "refuse /certs/ca/key.pem: owned by uid 1000, not 0 (the user envbox runs as); remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			// The certificate of a refused key stays as it was, unused:
			// envbox exits and dockerd never starts.
			name:    "server_key_made_world_readable",
			prior:   true,
			setup:   func(t *testing.T, root string) { mustChmod(t, filepath.Join(root, "certs/server/key.pem"), 0o644) },
			wantErr: "refuse /certs/server/key.pem: mode 0644 lets other users read it; remove it and envbox makes a new key and certificate",
		},
		{
			name:    "server_key_world_writable",
			prior:   true,
			setup:   func(t *testing.T, root string) { mustChmod(t, filepath.Join(root, "certs/server/key.pem"), 0o602) },
			wantErr: "refuse /certs/server/key.pem: mode 0602 lets other users write it; remove it and envbox makes a new key and certificate",
		},
		{
			name:    "client_key_world_writable",
			prior:   true,
			setup:   func(t *testing.T, root string) { mustChmod(t, filepath.Join(root, "certs/client/key.pem"), 0o666) },
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
			setup: func(t *testing.T, root string) { mustChmod(t, filepath.Join(root, "certs/server/key.pem"), 0o640) },
		},
		{
			// The client key is shared as docker:dind shares it.
			name:  "client_key_private_made_shareable",
			prior: true,
			setup: func(t *testing.T, root string) { mustChmod(t, filepath.Join(root, "certs/client/key.pem"), 0o600) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runTreeCase(t, tc)
		})
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
			writeFileMode(t, filepath.Join(d, "..2026_11_25_12_00_00.1", name), string(b), 0o644)
			mustSymlink(t, filepath.Join("..data", name), filepath.Join(d, name))
		}
		mustSymlink(t, "..2026_11_25_12_00_00.1", filepath.Join(d, "..data"))
	}
	before := snapshotTree(t, root)
	if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
		t.Fatalf("EnsureTLS on a Secret volume: %v", err)
	}
	after := snapshotTree(t, root)
	assertUnchanged(t, before, after)
}

// userCerts writes, under root/certs, a CA certificate without its key and
// a server certificate, key and CA: certificates the user provides.
func userCerts(t *testing.T, root string) {
	t.Helper()
	src := afero.NewMemMapFs()
	if err := EnsureTLS(src, testTLSConfig()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca/cert.pem", "server/ca.pem", "server/cert.pem", "server/key.pem"} {
		b, err := afero.ReadFile(src, "/certs/"+name)
		if err != nil {
			t.Fatal(err)
		}
		writeFileMode(t, filepath.Join(root, "certs", name), string(b), 0o600)
	}
}

// Trees another user sharing the volume can prepare: a second name for a
// private key, or certificates of their own where envbox would take them
// for the user's.
func TestEnsureTLSForeignTrees(t *testing.T) {
	t.Parallel()
	tests := []treeCase{
		{
			// With fs.protected_hardlinks=0 anyone may link the CA
			// key into the 1777 client/ dir: it was then reused as
			// the client key and rewritten there at 0644.
			name:  "ca_key_hard_linked_as_client_key",
			prior: true,
			setup: func(t *testing.T, root string) {
				mustRemove(t, filepath.Join(root, "certs/client/key.pem"))
				if err := os.Link(filepath.Join(root, "certs/ca/key.pem"), filepath.Join(root, "certs/client/key.pem")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "refuse /certs/ca/key.pem: 2 names link to it, another may be readable elsewhere; remove it and /certs/ca/cert.pem, and envbox makes a new CA",
		},
		{
			// Another user who made ca/ and server/ first (in a 1777
			// /certs) chose the CA dockerd trusts: their own client
			// certificate would then be accepted on port 2376.
			name:     "user_certs_in_dirs_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				userCerts(t, root)
				for _, name := range []string{"ca", "ca/cert.pem", "server", "server/ca.pem", "server/cert.pem", "server/key.pem"} {
					mustChown(t, filepath.Join(root, "certs", name), 1000)
				}
			},
			wantErr: "refuse /certs/ca: owned by uid 1000, not 0 (the user envbox runs as); remove it and envbox makes it again",
		},
		{
			name: "user_certs_in_world_writable_server_dir",
			setup: func(t *testing.T, root string) {
				userCerts(t, root)
				mustChmod(t, filepath.Join(root, "certs/server"), 0o777)
			},
			wantErr: "refuse /certs/server: mode 0777 lets other users replace its files; chmod o-w (or +t) it",
		},
		{
			// Whoever owns DOCKER_TLS_CERTDIR can rename server/ away
			// and put their own in its place.
			name:     "certdir_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				mustMkdir(t, filepath.Join(root, "certs"), 0o755)
				mustChown(t, filepath.Join(root, "certs"), 1000)
			},
			wantErr: "refuse /certs: owned by uid 1000, not 0 (the user envbox runs as); remove it and envbox makes it again",
		},
		{
			// Its owner could point it elsewhere between two looks.
			name:     "certdir_symlink_of_another_user",
			rootOnly: true,
			setup: func(t *testing.T, root string) {
				mustMkdir(t, filepath.Join(root, "real"), 0o755)
				mustSymlink(t, filepath.Join(root, "real"), filepath.Join(root, "certs"))
				mustChown(t, filepath.Join(root, "certs"), 1000)
			},
			wantErr: "refuse /certs: owned by uid 1000, not 0 (the user envbox runs as); recreate it as that user",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runTreeCase(t, tc)
		})
	}
}

// A Kubernetes emptyDir is 0777 without the sticky bit: any user sharing
// it could rename envbox's server/ away between EnsureTLS and dockerd
// reading it and put their own CA there, or swap a temporary file for a
// symlink before envbox chmods it. GitLab's Kubernetes executor mounts one
// at /certs/client, our sidecar manifest at /certs. envbox gives them the
// sticky bit, as docker:dind's image makes /certs and /certs/client 1777.
func TestEnsureTLSMakesWorldWritableDirsSticky(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"certs", "certs/client"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			t.Parallel()
			fsys, root := osCerts(t)
			mustMkdir(t, filepath.Join(root, dir), 0o777)
			if err := EnsureTLS(fsys, testTLSConfig()); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(root, dir))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fi.Mode().String(), "dtrwxrwxrwx"; got != want {
				t.Errorf("mode of /%s = %s, want %s", dir, got, want)
			}
			assertLayout(t, root)
		})
	}
}
