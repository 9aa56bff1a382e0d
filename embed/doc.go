// Package embed owns the shell scripts envbox ships inside its binary and
// their Go accessors. It never runs them: package dind builds the argv that
// does.
//
// The tests run delegate.sh on the real kernel under dash, busybox sh and
// bash, always inside a throwaway cgroup entered atomically with
// integration/cgtest, and benchmark it against moby's classic xargs + sed
// loop (`make bench`).
package embed
