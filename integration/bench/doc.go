// Command bench is `make bench`: it runs every benchmark of the project,
// one `go test -bench` per package with a benchtime chosen so the whole run
// takes a few minutes, and prints one Markdown table of envbox against its
// baseline, each ratio computed from the two values of that same run.
//
// It owns the list of suites and rows and the parsing of `go test -v
// -bench` output. It never asserts a timing (the machine is shared and
// noisy) and never runs anything as root by itself: the benchmarks that
// need root, the real kernel or dockerd skip themselves, and their rows
// read "skipped" with the benchmark's reason. The raw output is kept for
// reading the benchmarks' own logs.
package main
