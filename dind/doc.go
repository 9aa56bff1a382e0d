// Package dind owns how dockerd is launched: the dockerd argv, the
// delegation wrapper argv around it (the only way dockerd is ever started)
// and which cgroup namespace it runs in, waiting for the Docker API and
// recognising dockerd's fatal "no space left" output. It never runs
// processes itself: package background does.
package dind
