# envbox — build, test, lint, bench. `make test` is the command CI runs.
GO      ?= go
BIN     ?= bin/envbox
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/envbox/envbox/cli.Version=$(VERSION)

.PHONY: build deps test unit lint bench demo clean fuzz

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/envbox

# Installs what the real-kernel, dockerd and VM tests need (idempotent).
deps:
	./integration/deps.sh

# Everything: unit, real-kernel, real-dockerd and VM tests. Needs root.
test: deps build
	$(GO) test -count=1 -timeout 60m ./...

# Fast unit tests only (no root, no docker, no VM).
unit:
	$(GO) test -count=1 -short ./...

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	staticcheck ./...
	shellcheck $$(git ls-files '*.sh') .ci/run

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

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 5x ./... | tee bin/bench.txt

demo: deps build
	./integration/demo.sh

clean:
	rm -rf bin
