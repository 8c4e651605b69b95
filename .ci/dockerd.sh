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
if [ -x "$cache/dockerd" ] && [ -x "$cache/docker-proxy" ]; then echo "$cache"; exit 0; fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mod="github.com/docker/docker@v$version+incompatible"
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
mv vendor.mod go.mod
mv vendor.sum go.sum
mkdir -p "$cache.tmp"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -tags 'netgo osusergo static_build exclude_graphdriver_btrfs' \
  -o "$cache.tmp/" ./cmd/dockerd ./cmd/docker-proxy >&2
rm -rf "$cache"
mv "$cache.tmp" "$cache"
echo "$cache"
