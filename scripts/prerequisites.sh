#!/usr/bin/env bash
# Installs what the test suites need and is missing. Idempotent: does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
# (contract-test prerequisites are added here as the suites arrive)
# buf (proto lint, in Protocol.Tests) and the Node grpc-js echo peer (perf/grpc-load.sh, in
# Perf.Tests), pinned in package-lock.json.
{ [ -d node_modules/@bufbuild/buf ] && [ -d node_modules/@grpc/grpc-js ] && [ -d node_modules/@grpc/proto-loader ]; } \
  || npm ci --no-audit --no-fund
# h2load and nghttp (perf/grpc-load.sh, in Perf.Tests): Debian's nghttp2-client.
if ! command -v h2load >/dev/null || ! command -v nghttp >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client
  else
    echo "prerequisites: h2load/nghttp missing and not root; run: sudo apt-get install nghttp2-client" >&2
  fi
fi
exit 0
