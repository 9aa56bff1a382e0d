package embed

import _ "embed"

// DelegateScript is the cgroup delegation wrapper (delegate.sh). It is run as
// `/bin/sh -c DelegateScript BIN ARGS...` inside a new cgroup namespace and
// ends by exec'ing BIN.
//
//go:embed delegate.sh
var DelegateScript string

// EnvDelegateAttempts bounds the script's migrate-and-enable loop. The Go
// caller sets it in the child's environment; it is never spliced into the
// script text.
const EnvDelegateAttempts = "ENVBOX_DELEGATE_ATTEMPTS"
