#!/bin/sh
# Runs every Go test verbosely (so the output shows each test RUN, not just
# its package), keeps the log in bin/test.log, then lists every skipped test
# with its reason and ends with one count line. Exit status: go test's.
set -u
# go.mod's toolchain (go1.27.3), fetched by go where its env file says local.
: "${GOTOOLCHAIN:=auto}"
export GOTOOLCHAIN
log=bin/test.log
mkdir -p bin
status=bin/test.status
{ go test -count=1 -v -timeout 60m "$@" ./... 2>&1; echo $? >"$status"; } | tee "$log"
rc=$(cat "$status")
passed=$(grep -c -- '--- PASS:' "$log")
failed=$(grep -c -- '--- FAIL:' "$log")
skipped=$(grep -c -- '--- SKIP:' "$log")
if [ "$skipped" -gt 0 ]; then
	echo
	echo "skipped tests and why:"
	# go test -v prints a skip's reason (a "file.go:N: ..." line) under the
	# test's === RUN / === NAME / === CONT header, before its SKIP line.
	awk '/^=== (RUN|NAME|CONT) / { cur = $3 }
		/^[ \t]+[^ \t]+\.go:[0-9]+: / { r = $0; sub(/^[ \t]+/, "", r); reason[cur] = r }
		/--- SKIP:/ { print "  " $3 ": " reason[$3] }' "$log"
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
