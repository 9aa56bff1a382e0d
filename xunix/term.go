package xunix

import "golang.org/x/sys/unix"

// IsTerminal reports whether fd is a terminal (for choosing a log format).
func IsTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}
