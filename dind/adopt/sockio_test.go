package adopt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// unixPair is a connected pair of unix stream sockets.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	sock := filepath.Join(shortDir(t), "pair.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestSockIOWritevWhole: a and b larger than the socket's buffer arrive
// whole and in order through partial writes, then EOF once the writer
// closes.
func TestSockIOWritevWhole(t *testing.T) {
	w, r := unixPair(t)
	a := bytes.Repeat([]byte("head "), 100_000) // 500,000 bytes
	b := bytes.Repeat([]byte{'b'}, 3<<20)
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(newSockIO(r))
		got <- all
	}()
	n, err := newSockIO(w).writev(a, b)
	if err != nil || n != len(a)+len(b) {
		t.Fatalf("writev = %d, %v; want %d, nil", n, err, len(a)+len(b))
	}
	w.Close()
	if all := <-got; !bytes.Equal(all, append(a, b...)) {
		t.Fatalf("read %d bytes, not a then b (%d bytes)", len(all), len(a)+len(b))
	}
}

// TestSockIOReadDeadline: a read waits in the poller and keeps the
// connection's deadline.
func TestSockIOReadDeadline(t *testing.T) {
	_, r := unixPair(t)
	_ = r.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err := newSockIO(r).Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %d, %v; want 0 and a deadline error", n, err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("Read returned after %v, before its deadline", took)
	}
}
