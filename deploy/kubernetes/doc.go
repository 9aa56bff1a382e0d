// Package kubernetes holds the deployment examples of envbox (a Coder
// workspace pod under the sysbox RuntimeClass, a Docker-in-Docker sidecar for
// CI runners, a Tetragon TracingPolicy and Falco rules showing inner
// processes attributed to the pod) and the test that validates them. It has
// no code: nothing here ships in the binary.
package kubernetes
