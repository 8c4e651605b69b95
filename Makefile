# Sockerless build, run and test entry points. `make run` and `make test`
# work on a fresh machine: they fetch what they need themselves.

SHELL     := /bin/bash
GO        ?= go
BIN       ?= bin
APPLETS   := providers/memory/sandbox/applets.wasm
PKGS      := ./...
# The integration package takes ~20 min on a quiet 2-core machine and ~45
# with both cores loaded by a CPU hog (docs/performance.md): the timeout
# leaves room for a busy machine inside CI's 90 minutes.
TEST_TIMEOUT ?= 85m

.PHONY: all build run test test-integration bench conformance lint applets tools clean lambda deploy-check

all: build

# The WASM applets are built from source in this repo with the stock Go
# toolchain and embedded in the binaries; every Go build depends on them.
applets: $(APPLETS)

$(APPLETS): $(shell find providers/memory/applets internal/wasmdata -name '*.go' 2>/dev/null) go.mod
	@mkdir -p $(dir $@)
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o $@.linked ./providers/memory/applets
	$(GO) run ./internal/wasmdata/mergedata $@.linked $@
	rm -f $@.linked

# Static binaries: nothing here needs cgo, and without libc the daemon is
# smaller and runs on any Linux (Lambda, distroless images).
build: applets
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

run: build
	$(BIN)/sockerless

test: applets tools deploy-check
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

# The functions Lambda for provided.al2023 (terraform/aws lambda_zip_path):
# bin/lambda/sockerless-functions-{arm64,x86_64}.zip, each with the static
# executable named bootstrap and the static linux/amd64 sockerless-agent
# that the ecs and lambda providers inject (SOCKERLESS_AGENT_BINARY=
# /var/task/sockerless-agent; workloads run on x86_64, Fargate's and
# Lambda's default, whatever the control plane's architecture).
lambda: applets
	@mkdir -p $(BIN)/lambda && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/lambda/sockerless-agent ./cmd/sockerless-agent || exit 1; \
	for a in arm64:arm64 x86_64:amd64; do d=$(BIN)/lambda/$${a%%:*}; mkdir -p $$d && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$${a##*:} $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w' -o $$d/bootstrap ./cmd/sockerless-functions && \
	  cp $(BIN)/lambda/sockerless-agent $$d/sockerless-agent && \
	  rm -f $$d.zip && (cd $$d && python3 -m zipfile -c ../sockerless-functions-$${a%%:*}.zip bootstrap sockerless-agent) && echo $(BIN)/lambda/sockerless-functions-$${a%%:*}.zip || exit 1; done

# terraform/aws and pulumi/aws without a cloud: format, validate, the
# module's mocked-provider tests, the Pulumi program's tests. (go test's
# integration/deploy_test.go applies the module to moto.)
TF_PLUGIN_MIRROR ?= /opt/tf-plugins
TF_CHECK := .cache/deploy-check
TF       := TF_CLI_CONFIG_FILE=$(CURDIR)/$(TF_CHECK)/tf.rc CHECKPOINT_DISABLE=1 terraform
deploy-check:
	@mkdir -p $(TF_CHECK) && printf 'provider_installation {\n  filesystem_mirror { path = "%s" }\n  direct { exclude = ["*/*"] }\n}\n' "$(TF_PLUGIN_MIRROR)" > $(TF_CHECK)/tf.rc
	$(TF) fmt -check -recursive terraform
	@for d in terraform/aws terraform/aws/examples/complete; do TF_DATA_DIR=$(CURDIR)/$(TF_CHECK)/$$(echo $$d | tr / _) $(TF) -chdir=$$d init -backend=false -input=false -no-color >/dev/null || exit 1; done
	TF_DATA_DIR=$(CURDIR)/$(TF_CHECK)/terraform_aws $(TF) -chdir=terraform/aws validate -no-color
	TF_DATA_DIR=$(CURDIR)/$(TF_CHECK)/terraform_aws_examples_complete $(TF) -chdir=terraform/aws/examples/complete validate -no-color
	TF_DATA_DIR=$(CURDIR)/$(TF_CHECK)/terraform_aws $(TF) -chdir=terraform/aws test -no-color
	cd pulumi/aws && $(GO) vet ./... && $(GO) test ./...

# tools installs the real clients the integration tests drive.
tools:
	@./.ci/tools.sh

clean:
	rm -rf $(BIN) $(APPLETS) .test.log .conformance.log
