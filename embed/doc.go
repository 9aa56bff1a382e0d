// Package embed owns the shell scripts envbox ships inside its binary and
// their Go accessors. It never runs them: package dind builds the argv that
// does.
package embed
