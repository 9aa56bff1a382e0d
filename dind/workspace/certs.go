package workspace

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/dind"
)

// maxCABytes bounds what ReadCAs reads, all files together: a system
// bundle directory (/etc/ssl/certs) is about 1 MiB, and a path to a huge
// or endless file (/proc/self/pagemap) must not exhaust memory before
// anything starts.
const maxCABytes = 16 << 20

// DockerCertsDir is where dockerd looks for a registry's CA certificates:
// <DockerCertsDir>/<host[:port]>/*.crt, read at every pull.
const DockerCertsDir = "/etc/docker/certs.d"

// registryCAFile is the name envbox writes in a registry's directory.
const registryCAFile = "ca.crt"

// ReadCAs reads the PEM certificates at path (CODER_EXTRA_CERTS_PATH): a
// file, or the files of a directory (not its subdirectories, so the
// ..data directory of a Kubernetes volume is read once, through the
// names linked to it). It returns the certificates re-encoded, in file
// name order, and how many. Blocks other than certificates (a key in the
// same bundle) are skipped; a certificate that does not parse, or a path
// holding none, is an error naming the path.
func ReadCAs(fsys afero.Fs, path string) ([]byte, int, error) {
	fi, err := fsys.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read CA certificates: %w", err)
	}
	files := []string{path}
	switch {
	case !fi.IsDir() && !fi.Mode().IsRegular():
		// A named pipe would block the read before anything starts.
		return nil, 0, fmt.Errorf("read CA certificates: %s is not a regular file or a directory", path)
	case fi.IsDir():
		if files, err = certFiles(fsys, path); err != nil {
			return nil, 0, err
		}
	}
	var out bytes.Buffer
	n, budget := 0, int64(maxCABytes)
	for _, f := range files {
		data, err := readCAFile(fsys, f, budget)
		if err != nil {
			return nil, 0, fmt.Errorf("read CA certificates: %w", err)
		}
		budget -= int64(len(data))
		k, err := appendCerts(&out, data)
		if err != nil {
			return nil, 0, fmt.Errorf("read CA certificates from %s: %w", f, err)
		}
		n += k
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("read CA certificates: %s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", path)
	}
	return out.Bytes(), n, nil
}

// readCAFile reads path, refusing more than budget bytes.
func readCAFile(fsys afero.Fs, path string, budget int64) ([]byte, error) {
	data, err := readRegular(fsys, path, budget)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > budget {
		return nil, fmt.Errorf("%s makes the certificates larger than %d bytes (%d MiB)", path, maxCABytes, maxCABytes>>20)
	}
	return data, nil
}

// readRegular reads at most limit+1 bytes of path (more than limit: too
// big, the caller says so). What is opened is checked, not a name stat'ed
// before: opened without blocking, a named pipe swapped in since (or a
// regular file that blocks, such as /proc/kmsg) cannot hang envbox.
func readRegular(fsys afero.Fs, path string, limit int64) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s)", path, fi.Mode())
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// certFiles lists the files of dir (symlinks followed), sorted.
func certFiles(fsys afero.Fs, dir string) ([]string, error) {
	names, err := afero.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	var files []string
	for _, e := range names {
		p := filepath.Join(dir, e.Name())
		fi, err := fsys.Stat(p) // follow a symlink: a Kubernetes volume's names are ones
		if err != nil {
			return nil, fmt.Errorf("read CA certificates: %w", err)
		}
		if fi.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files, nil
}

// appendCerts appends the CERTIFICATE blocks of data to out, each checked
// to parse.
func appendCerts(out *bytes.Buffer, data []byte) (int, error) {
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return n, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		if err := pem.Encode(out, &pem.Block{Type: block.Type, Bytes: block.Bytes}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// WriteRegistryCA writes the certificates to <certsDir>/<registry>/ca.crt
// (through a temporary file renamed over it: dockerd reads the directory
// at every pull) and returns the path. Docker Hub's pulls ignore
// certs.d: nothing is written for it and the path is "".
func WriteRegistryCA(fsys afero.Fs, certsDir, registry string, pemData []byte) (string, error) {
	if registry == dockerHub {
		return "", nil
	}
	if registry == "" || registry == "." || registry == ".." || filepath.Base(registry) != registry {
		return "", errors.New("registry " + registry + ": not a host[:port]")
	}
	path := filepath.Join(certsDir, registry, registryCAFile)
	if err := dind.WriteTrustedFile(fsys, path, pemData, 0o644); err != nil {
		return "", fmt.Errorf("trust the extra CA certificates for registry %s: %w", registry, err)
	}
	return path, nil
}
