package dind

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// The certificate tree sits in a volume other containers share, and
// docker:dind makes /certs and /certs/client world-writable (1777): any name
// in it may have been planted by another user. So envbox never follows a
// symlink there, opens nothing but regular files, writes every file to a
// fresh temporary file (O_EXCL) renamed over the old one, so a reader sees
// the old or the new file and never a torn one, and reuses a private key
// only when no other user can have read or replaced it.
//
// "Envbox's user" is the effective uid: root in a container, the test's
// user in tests.

// UnsafePathError is a name in the certificate tree that envbox refuses to
// use or replace.
type UnsafePathError struct {
	Path   string
	Reason string
	// Fix is what the user does about it.
	Fix string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("refuse %s: %s; %s", e.Path, e.Reason, e.Fix)
}

const fixRemake = "remove it and envbox makes it again"

// keyFile is a private key in the tree and the mode it is kept at.
type keyFile struct {
	path string
	mode fs.FileMode
	// fix is what to do when the existing key is refused.
	fix string
}

// sharedKey says whether other users may read the key: only the client
// key, as docker:dind makes it, for clients running as any user.
func (k keyFile) sharedKey() bool { return k.mode&0o004 != 0 }

// missing says whether err means no file is there: a path component that
// is not a directory means none either (and is judged on its own).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func lstat(fsys afero.Fs, path string) (fs.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(path)
		return fi, err
	}
	return fsys.Stat(path)
}

// checkOwner refuses path unless envbox's user owns it: another owner can
// change its mode, and the files in it if it is a directory.
func checkOwner(path string, fi fs.FileInfo, fix string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &UnsafePathError{Path: path, Reason: "its owner is unknown", Fix: fix}
	}
	if want := os.Geteuid(); int(st.Uid) != want {
		return &UnsafePathError{Path: path, Reason: fmt.Sprintf("owned by uid %d, not %d (the user envbox runs as)", st.Uid, want), Fix: fix}
	}
	return nil
}

// certDir returns what is at dir, nil when nothing is, refusing anything
// but a directory envbox's user owns: another owner could swap
// server/ca.pem for their own CA between envbox writing it and dockerd
// reading it.
func certDir(fsys afero.Fs, dir string) (fs.FileInfo, error) {
	fi, err := lstat(fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("lstat %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &UnsafePathError{Path: dir, Reason: "a symlink, want a directory", Fix: fixRemake}
	case !fi.IsDir():
		return nil, &UnsafePathError{Path: dir, Reason: fmt.Sprintf("not a directory (mode %s)", fi.Mode()), Fix: fixRemake}
	}
	return fi, checkOwner(dir, fi, fixRemake)
}

// othersReplace says whether other users may rename or remove the names in
// the directory fi: world-writable without the sticky bit.
func othersReplace(fi fs.FileInfo) bool {
	return fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0
}

// checkCertDir checks a dir envbox writes in (see certDir), and gives it
// the sticky bit if others may replace its files: a Kubernetes emptyDir is
// 0777 (GitLab's executor mounts one at /certs/client); docker:dind's image
// makes /certs and /certs/client 1777. With create, a missing dir is made
// (Mkdir fails if someone made it since: nothing is followed).
func checkCertDir(fsys afero.Fs, dir string, create bool) error {
	fi, err := certDir(fsys, dir)
	switch {
	case err != nil:
		return err
	case fi == nil && create:
		if err := fsys.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", dir, err)
		}
		return nil
	case fi == nil:
		return nil
	}
	return makeSticky(fsys, dir, fi)
}

// makeSticky gives the dir fi the sticky bit when others may replace its
// files: they may then add names but not rename or remove envbox's.
func makeSticky(fsys afero.Fs, dir string, fi fs.FileInfo) error {
	if !othersReplace(fi) {
		return nil
	}
	mode := fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid) | fs.ModeSticky
	if err := fsys.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod +t %s (mode %04o lets other users replace its files): %w", dir, fi.Mode().Perm(), err)
	}
	return nil
}

// checkCertRoot checks DOCKER_TLS_CERTDIR, when it exists: whoever can
// rename its entries can put their own server/ (and CA) in place of
// envbox's before dockerd reads it. So it must be envbox's user's, and a
// world-writable one (a Kubernetes emptyDir is 0777) gets the sticky bit, as
// docker:dind's image makes /certs 1777. A symlink to it must be envbox's
// user's too: its owner could point it elsewhere between two looks.
func checkCertRoot(fsys afero.Fs, dir string) error {
	fi, err := lstat(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lstat %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if err := checkOwner(dir, fi, "recreate it as that user"); err != nil {
			return err
		}
		if fi, err = fsys.Stat(dir); err != nil {
			return fmt.Errorf("stat %s: %w", dir, err)
		}
	}
	if !fi.IsDir() {
		return &UnsafePathError{Path: dir, Reason: fmt.Sprintf("not a directory (mode %s)", fi.Mode()), Fix: fixRemake}
	}
	if err := checkOwner(dir, fi, fixRemake); err != nil {
		return err
	}
	return makeSticky(fsys, dir, fi)
}

// checkTreeFile refuses a symlink or a non-regular file at path and
// returns what is there, nil when nothing is.
func checkTreeFile(fsys afero.Fs, path, fix string) (fs.FileInfo, error) {
	fi, err := lstat(fsys, path)
	switch {
	case missing(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("lstat %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &UnsafePathError{Path: path, Reason: "a symlink", Fix: fix}
	case !fi.Mode().IsRegular():
		return nil, &UnsafePathError{Path: path, Reason: notRegular(fi), Fix: fix}
	}
	return fi, nil
}

// openStat opens path for reading and stats the opened file, so checks
// on it hold for what is read. O_NONBLOCK: a named pipe must not hang it.
func openStat(fsys afero.Fs, path string, flag int) (afero.File, fs.FileInfo, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|flag, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return f, fi, nil
}

func notRegular(fi fs.FileInfo) string {
	return fmt.Sprintf("not a regular file (mode %s)", fi.Mode())
}

// storedKey is a private key read from the tree.
type storedKey struct {
	signer crypto.Signer
	pem    []byte
	perm   fs.FileMode
}

// loadKey reads the private key k when envbox may reuse it: a regular file
// owned by envbox's user that other users can neither write nor, but for
// the client key, read. A missing or empty key is nil: a new one is then
// written beside it and renamed over it, never written into it (a
// pre-created file may be held open by someone else).
func loadKey(fsys afero.Fs, k keyFile) (*storedKey, error) {
	f, fi, err := openStat(fsys, k.path, unix.O_NOFOLLOW)
	switch {
	case missing(err):
		return nil, nil
	case errors.Is(err, unix.ELOOP):
		return nil, &UnsafePathError{Path: k.path, Reason: "a symlink", Fix: k.fix}
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", k.path, err)
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return nil, &UnsafePathError{Path: k.path, Reason: notRegular(fi), Fix: k.fix}
	}
	if err := checkOwner(k.path, fi, k.fix); err != nil {
		return nil, err
	}
	// A second name for the key (a hard link in the 1777 client/ dir
	// when fs.protected_hardlinks is 0) would be rewritten there at
	// that key's mode, or be readable wherever it sits.
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		return nil, &UnsafePathError{Path: k.path, Reason: fmt.Sprintf("%d names link to it, another may be readable elsewhere", n), Fix: k.fix}
	}
	perm := fi.Mode().Perm()
	if perm&0o002 != 0 {
		return nil, &UnsafePathError{Path: k.path, Reason: fmt.Sprintf("mode %04o lets other users write it", perm), Fix: k.fix}
	}
	if perm&0o004 != 0 && !k.sharedKey() {
		return nil, &UnsafePathError{Path: k.path, Reason: fmt.Sprintf("mode %04o lets other users read it", perm), Fix: k.fix}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", k.path, err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse private key %s: %w", k.path, err)
	}
	return &storedKey{signer: key, pem: data, perm: perm}, nil
}

// useKey returns the stored key, at k's mode, or a new one.
func useKey(fsys afero.Fs, k keyFile, stored *storedKey) (crypto.Signer, error) {
	if stored == nil {
		return newKey(fsys, k)
	}
	if stored.perm != k.mode {
		// The mode is part of the contract (the client key must be
		// shareable): the same bytes go through a new file.
		if err := writeFile(fsys, k.path, stored.pem, k.mode); err != nil {
			return nil, err
		}
	}
	return stored.signer, nil
}

// newKey writes a new P-256 key to k.
func newKey(fsys afero.Fs, k keyFile) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key %s: %w", k.path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", k.path, err)
	}
	return key, writeFile(fsys, k.path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), k.mode)
}

// writeFile replaces path with data at mode through a temporary file
// created with O_EXCL in the same directory and renamed over path: rename
// replaces the name (a symlink would not be followed) and readers see the
// old file or the new one, whole.
func writeFile(fsys afero.Fs, path string, data []byte, mode fs.FileMode) (err error) {
	f, err := afero.TempFile(fsys, filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = fsys.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// The umask applied at creation; the mode is part of the contract.
	if err := fsys.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("chmod %s %04o: %w", tmp, mode, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}

func writePEM(fsys afero.Fs, path, typ string, der []byte, mode fs.FileMode) error {
	return writeFile(fsys, path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// WriteTrustedFile writes a file other programs trust (a registry CA that
// dockerd reads) as the certificate tree's files are written: its
// directory is made when missing and must not be a symlink, no directory
// on the way to it may be changed by another user (see checkTrustedPath),
// a symlink or non-regular file at path is refused, and data goes through
// a temporary file renamed over path.
func WriteTrustedFile(fsys afero.Fs, path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	// Before MkdirAll, which follows symlinks, and after it.
	if err := checkTrustedPath(fsys, dir); err != nil {
		return err
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := checkTrustedPath(fsys, dir); err != nil {
		return err
	}
	fi, err := lstat(fsys, dir)
	switch {
	case err != nil:
		return fmt.Errorf("lstat %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafePathError{Path: dir, Reason: "a symlink, want a directory", Fix: "remove it and envbox makes the directory"}
	case !fi.IsDir():
		return &UnsafePathError{Path: dir, Reason: fmt.Sprintf("not a directory (mode %s)", fi.Mode()), Fix: "remove it and envbox makes the directory"}
	}
	if _, err := checkTreeFile(fsys, path, "remove it and envbox writes the file"); err != nil {
		return err
	}
	return writeFile(fsys, path, data, mode)
}

// checkTrustedPath refuses dir when a name on the way to it (from /) may
// be changed by a user other than root or envbox's: a symlink or a
// directory such a user owns, or a directory world-writable without the
// sticky bit (anyone may rename its entries). MkdirAll follows every
// symlink on the way, so a planted one would send envbox's write wherever
// it points. Missing names are skipped (MkdirAll makes them).
func checkTrustedPath(fsys afero.Fs, dir string) error {
	const fix = "make it root's and not writable by other users"
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := lstat(fsys, d)
		switch {
		case missing(err):
			if d == filepath.Dir(d) {
				return nil
			}
			continue
		case err != nil:
			return fmt.Errorf("lstat %s: %w", d, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if uid, ok := foreignOwner(fi); ok {
				return &UnsafePathError{Path: d, Reason: fmt.Sprintf("a symlink owned by uid %d, neither root nor the user envbox runs as", uid), Fix: fix}
			}
			if fi, err = fsys.Stat(d); err != nil {
				return fmt.Errorf("stat %s: %w", d, err)
			}
		}
		if uid, ok := foreignOwner(fi); ok {
			return &UnsafePathError{Path: d, Reason: fmt.Sprintf("owned by uid %d, neither root nor the user envbox runs as", uid), Fix: fix}
		}
		if othersReplace(fi) {
			return &UnsafePathError{Path: d, Reason: fmt.Sprintf("mode %04o lets other users rename its entries", fi.Mode().Perm()), Fix: fix}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// foreignOwner returns fi's owner when it is neither root nor envbox's
// user. An owner that cannot be read (a file system without uids, as in
// tests) is not foreign.
func foreignOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 || int(st.Uid) == os.Geteuid() {
		return 0, false
	}
	return st.Uid, true
}
