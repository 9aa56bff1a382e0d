# envbox — build, test, lint, bench. `make test` is the command CI runs.
GO      ?= go
# go.mod names the toolchain (go1.27.3). Machines whose go env file says
# GOTOOLCHAIN=local would build with whatever go is installed; auto makes
# go fetch the named one from the module proxy (once, into the module cache).
export GOTOOLCHAIN ?= auto
BIN     ?= bin/envbox
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/envbox/envbox/cli.Version=$(VERSION)

.PHONY: build deps test unit lint vulncheck bench demo clean fuzz

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/envbox

# Installs what the real-kernel, dockerd and VM tests need (idempotent).
deps:
	./integration/deps.sh

# Everything: unit, real-kernel, real-dockerd and VM tests. Needs root.
test: deps build
	./integration/gotest.sh

# Fast unit tests only (no root, no docker, no VM).
unit:
	$(GO) test -count=1 -short ./...

# gofmt of go.mod's toolchain, not the one first in PATH.
lint:
	@set -e; gofmt=$$($(GO) env GOROOT)/bin/gofmt; out=$$($$gofmt -l $$(git ls-files '*.go')); \
		test -z "$$out" || { echo "not gofmt-ed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...
	shellcheck $$(git ls-files '*.sh' 'cli/testdata/fake-*') .ci/run

# govulncheck, offline: the vulnerability database is built from the module
# golang.org/x/vulndb (its data/osv/*.json), which the Go module proxy
# serves, by that module's cmd/indexdb; nothing asks vuln.go.dev. Fails on
# any vulnerability reachable from envbox's code. Both tools are built with
# go.mod's toolchain: older go/types cannot read its standard library.
# To bump the database (on purpose, with the report it gives):
#   go list -m -f '{{.Version}}' golang.org/x/vulndb@latest
# and put the version printed here.
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
VULNDB              := bin/vulndb/$(VULNDB_VERSION)
vulncheck:
	@set -e; tc=$$($(GO) env GOVERSION); \
	if [ ! -d $(VULNDB) ]; then \
		$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION); \
		osv=$$($(GO) list -m -f '{{.Dir}}' golang.org/x/vulndb@$(VULNDB_VERSION))/data/osv; \
		echo "vulncheck: indexing $$osv into $(VULNDB)"; \
		rm -rf $(VULNDB).tmp; \
		GOTOOLCHAIN=$$tc $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$osv" -out $(VULNDB).tmp; \
		mv $(VULNDB).tmp $(VULNDB); \
	fi; \
	GOTOOLCHAIN=$$tc $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$(CURDIR)/$(VULNDB) ./...

# Native fuzz targets of FUZZPKGS, FUZZTIME each (go test fuzzes one target
# per run). A failing input is kept under the package's testdata/fuzz.
FUZZTIME ?= 5s
FUZZPKGS ?= ./...
fuzz:
	@set -e; for pkg in $$($(GO) list $(FUZZPKGS)); do \
		list=$$($(GO) test -list '^Fuzz' "$$pkg"); \
		for f in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

# Every benchmark, one table (Markdown, on stdout) with ratios measured in
# the same run; progress on stderr, raw output in bin/bench.txt. A few
# minutes; rows that need root, the real kernel or dockerd read "skipped".
bench: build
	$(GO) run ./integration/bench -go '$(GO)' -bin $(BIN) -raw bin/bench.txt

demo: deps build
	./integration/demo.sh

clean:
	rm -rf bin
