# Sockerless build, run and test entry points. `make run` and `make test`
# work on a fresh machine: they fetch what they need themselves.

SHELL     := /bin/bash
GO        ?= go
BIN       ?= bin
APPLETS   := providers/memory/sandbox/applets.wasm
PKGS      := ./...
TEST_TIMEOUT ?= 25m

.PHONY: all build run test test-integration bench conformance lint applets tools clean

all: build

# The WASM applets are built from source in this repo with the stock Go
# toolchain and embedded in the binaries; every Go build depends on them.
applets: $(APPLETS)

$(APPLETS): $(shell find providers/memory/applets internal/wasmdata -name '*.go' 2>/dev/null) go.mod
	@mkdir -p $(dir $@)
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w -buildid=' -o $@.linked ./providers/memory/applets
	$(GO) run ./internal/wasmdata/mergedata $@.linked $@
	rm -f $@.linked

# Static binaries: nothing here needs cgo, and without libc the daemon is
# smaller and runs on any Linux (Lambda, distroless images).
build: applets
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

run: build
	$(BIN)/sockerless

test: applets tools
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS) 2>&1 | tee .test.log | grep -v '^=== ' ; test $${PIPESTATUS[0]} -eq 0
	@echo "go test summary:"; grep -E '^(ok|FAIL|---|panic)' .test.log | grep -v '^--- PASS' || true

bench: applets tools
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The differential suite against the reference engine (also part of
# `make test`); rewrites docs/conformance.md and the suite's baseline.
conformance: applets tools
	CONFORMANCE_UPDATE=1 $(GO) test -count=1 -timeout 50m -run 'TestConformance|TestCorpus|TestNormalise' -v ./integration/conformance/ 2>&1 | tee .conformance.log | grep -E 'Summary|^(ok|FAIL|--- FAIL)' ; test $${PIPESTATUS[0]} -eq 0

lint: applets
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# tools installs the real clients the integration tests drive.
tools:
	@./.ci/tools.sh

clean:
	rm -rf $(BIN) $(APPLETS) .test.log .conformance.log
