#!/usr/bin/env bash
# Installs what the test suites need and is missing. Idempotent: does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
# (contract-test prerequisites are added here as the suites arrive)
# buf (proto lint, in Protocol.Tests), pinned in package-lock.json.
[ -d node_modules/@bufbuild/buf ] || npm ci --no-audit --no-fund
exit 0
