#!/usr/bin/env bash
# Installs the real clients and emulators the tests drive, when missing.
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_pkgs=()
python3 -c 'import docker' 2>/dev/null || apt_pkgs+=(python3-docker)
# gitlab-ci-local shells out to git and rsync on the host.
command -v git >/dev/null || apt_pkgs+=(git)
command -v rsync >/dev/null || apt_pkgs+=(rsync)
# `script` (util-linux) runs `docker run -it` under a pseudo-terminal.
command -v script >/dev/null || apt_pkgs+=(bsdutils)
# The reference Docker engine (internal/testutil/dockerengine): containerd,
# runc and docker-init from Debian's docker.io (its dockerd 20.10 is not the
# one used), a static busybox and debootstrap for the test images, and the
# bridge and iptables tools.
command -v containerd >/dev/null && command -v runc >/dev/null && command -v docker-init >/dev/null || apt_pkgs+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || apt_pkgs+=(busybox-static)
command -v debootstrap >/dev/null || apt_pkgs+=(debootstrap)
command -v iptables >/dev/null || apt_pkgs+=(iptables)
command -v ip >/dev/null || apt_pkgs+=(iproute2)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  echo "tools: installing ${apt_pkgs[*]}"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

command -v docker >/dev/null || { echo "tools: the docker CLI is required on PATH" >&2; exit 1; }
# moto (IAM, STS, CloudWatch Logs, ECR API) for the local AWS (integration/localcloud).
command -v moto_server >/dev/null || { echo "tools: moto_server is required on PATH (pip install 'moto[server]')" >&2; exit 1; }

# dockerd 28.2.2 (the reference engine), built into a versioned cache.
bash .ci/dockerd.sh >/dev/null

# act (nektos/act), the GitHub Actions runner integration/act_test.go
# drives, built from source through the Go module proxy into GOBIN (or
# GOPATH/bin), where the test looks for it first.
act_version=0.2.89
gobin="$(go env GOBIN)"; [ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
if ! "$gobin/act" --version 2>/dev/null | grep -qx "act version $act_version"; then
  echo "tools: go install github.com/nektos/act@v$act_version"
  go install "github.com/nektos/act@v$act_version"
fi

# npm packages (emulators, gitlab-ci-local) are pinned in package-lock.json.
if [ -f package-lock.json ] && [ ! -d node_modules ]; then
  echo "tools: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# docker-compose 1.29 (Debian's python one) for integration/compose_test.go.
if ! command -v docker-compose >/dev/null; then
  echo "tools: installing docker-compose"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq docker-compose >/dev/null
fi

# terraform/aws (make deploy-check, integration/deploy_test.go): terraform
# and the machine's local provider mirror (no Terraform registry is
# reachable), and moto_server, the AWS emulator the module is applied to.
command -v terraform >/dev/null || { echo "tools: terraform (1.11 or newer) is required on PATH" >&2; exit 1; }
tf_mirror="${TF_PLUGIN_MIRROR:-/opt/tf-plugins}"
if [ ! -d "$tf_mirror/registry.terraform.io/hashicorp/aws" ]; then
  echo "tools: no Terraform provider mirror holding registry.terraform.io/hashicorp/aws at $tf_mirror (set TF_PLUGIN_MIRROR to the folder that holds registry.terraform.io/)" >&2
  exit 1
fi
command -v moto_server >/dev/null || { echo "tools: moto_server (python moto[server]) is required on PATH" >&2; exit 1; }
