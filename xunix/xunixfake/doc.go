// Package xunixfake holds test doubles for package xunix's seams: an Execer
// that records every command line and plays back scripted results. It never
// runs a process.
package xunixfake
