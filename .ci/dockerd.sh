#!/usr/bin/env bash
# Builds the reference Docker engine (dockerd and docker-proxy 28.2.2) from
# the Go module proxy into a cache folder keyed by version, and prints that
# folder. A second run builds nothing. Debian's docker.io supplies
# containerd, runc and tini (installed by .ci/tools.sh).
#
# The module github.com/docker/docker@v28.2.2+incompatible has no go.mod and
# its proxy zip carries no vendor/ tree: build inside a copy with
# vendor.mod/vendor.sum renamed (see ../shared/reference/local-engine.md).
set -euo pipefail
version=28.2.2
cache="${SOCKERLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sockerless}/dockerd-$version"
# The engine's commit (as `docker version` of the released 28.2.2 shows it)
# and the module's release time, stamped in as Docker's own build does.
commit=45873be
built=2025-05-30T08:53:59.000000000+00:00
cached() { [ -x "$cache/docker-proxy" ] && "$cache/dockerd" --version 2>/dev/null | grep -q "version $version, build $commit"; }
if cached; then echo "$cache"; exit 0; fi
# One build at a time per machine: a second caller waits, then finds the cache.
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if cached; then echo "$cache"; exit 0; fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mod="github.com/docker/docker@v$version+incompatible"
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
mv vendor.mod go.mod
mv vendor.sum go.sum
rm -rf "$cache.tmp"
mkdir -p "$cache.tmp"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -tags 'netgo osusergo static_build exclude_graphdriver_btrfs' \
  -ldflags "-X github.com/docker/docker/dockerversion.Version=$version -X github.com/docker/docker/dockerversion.GitCommit=$commit -X github.com/docker/docker/dockerversion.BuildTime=$built -X 'github.com/docker/docker/dockerversion.PlatformName=Docker Engine - Community'" \
  -o "$cache.tmp/" ./cmd/dockerd ./cmd/docker-proxy >&2
rm -rf "$cache"
mv "$cache.tmp" "$cache"
echo "$cache"
