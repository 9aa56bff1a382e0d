// Package xunix is envbox's seam to the operating system: the filesystem
// (afero.Fs), command execution, the environment, and the parsing of kernel
// files (/proc/<pid>/cgroup, mountinfo, cgroup limit files). It holds no
// policy: callers decide what to do with what it reads.
package xunix
