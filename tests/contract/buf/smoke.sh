#!/usr/bin/env bash
# Ops smoke test through server reflection only (no proto files), with `buf curl` (npm
# @bufbuild/buf, pinned in the root package-lock.json): what an operator does with grpcurl or buf.
#
#   FM_URL=http://127.0.0.1:50051 bash tests/contract/buf/smoke.sh
#
# Lists services over reflection v1 and v1alpha, lists methods, calls every FiberManager RPC with
# JSON (Start, Submit JSON and binary, GetStatus, Pause, Resume, ListFibers, ListWorkflows,
# Interrupt), streams Subscribe live, checks an error's code and ErrorInfo, and health Check.
# Every buf call is bounded by `timeout`; the exit code is the result.
set -euo pipefail
cd "$(dirname "$0")/../../.."

url="${FM_URL:-http://127.0.0.1:50051}"
# The platform's native binary from the package (the node_modules/.bin/buf wrapper costs a second
# of Node start-up per call); the wrapper when no native binary runs here.
buf="node_modules/.bin/buf"
for native in node_modules/@bufbuild/buf-*/bin/buf; do
  if [ -x "$native" ] && "$native" --version >/dev/null 2>&1; then
    buf="$native"
    break
  fi
done
fiber="buf-smoke-$$-$RANDOM"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
bufcurl() { timeout 60 "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
# Calls an RPC with a JSON request; prints the JSON response.
call() { local method="$1" data="$2"; bufcurl -d "$data" "$url/$method"; }
# Evaluates a JavaScript expression over JSON read from stdin (bound to `r`); fails when falsy.
check() {
  local what="$1" expression="$2" input
  input="$(cat)"
  printf '%s\n' "$input"
  node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!('"$expression"')) process.exit(1);' <<<"$input" ||
    fail "$what: expected ($expression)"
}

step "buf $("$buf" --version)"

expected_services="fibermanager.v1.FiberManager
grpc.health.v1.Health
grpc.reflection.v1.ServerReflection
grpc.reflection.v1alpha.ServerReflection"
for protocol in grpc-v1 grpc-v1alpha; do
  step "list services (reflection $protocol)"
  services="$(bufcurl --reflect-protocol "$protocol" --list-services "$url" | sort)"
  echo "$services"
  [ "$services" = "$expected_services" ] || fail "services over $protocol"
done

step "list methods (describe the API)"
methods="$(bufcurl --list-methods "$url")"
echo "$methods"
for method in Start Submit Pause Resume Interrupt GetStatus ListFibers ListWorkflows Subscribe; do
  grep -qx "fibermanager.v1.FiberManager/$method" <<<"$methods" || fail "method $method not listed"
done
grep -qx "grpc.health.v1.Health/Watch" <<<"$methods" || fail "health Watch not listed"

step "health Check"
call grpc.health.v1.Health/Check '{}' | check "health of the server" 'r.status === "SERVING"'
call grpc.health.v1.Health/Check '{"service": "fibermanager.v1.FiberManager"}' | check "health of the service" 'r.status === "SERVING"'

step "ListWorkflows"
call fibermanager.v1.FiberManager/ListWorkflows '{}' | check "workflows" 'r.workflows.some(w => w.name === "echo")'

step "Start $fiber (JSON args, labels)"
call fibermanager.v1.FiberManager/Start "{\"fiber_id\": \"$fiber\", \"workflow\": \"echo\", \"args\": {}, \"labels\": {\"team\": \"ops\"}}" |
  check "Start" "r.created === true && r.fiber.fiberId === '$fiber' && r.fiber.labels.team === 'ops'"

step "Subscribe (live, in the background)"
bufcurl -d "{\"fiber_id\": \"$fiber\"}" "$url/fibermanager.v1.FiberManager/Subscribe" >"$work/events.json" 2>"$work/events.err" &
subscriber=$!
for _ in $(seq 1 200); do # bounded wait until the server counts the subscriber
  subscribers="$(call fibermanager.v1.FiberManager/GetStatus "{\"fiber_id\": \"$fiber\"}" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).subscribers ?? 0)')"
  [ "$subscribers" = "1" ] && break
  kill -0 "$subscriber" 2>/dev/null || { cat "$work/events.err" >&2; fail "Subscribe ended early"; }
done
[ "$subscribers" = "1" ] || fail "the subscriber never registered"

step "Submit JSON and binary payloads"
call fibermanager.v1.FiberManager/Submit "{\"fiber_id\": \"$fiber\", \"input\": {\"json\": {\"hello\": \"world\", \"n\": [1, 2.5, true, null]}}}" |
  check "Submit JSON" 'r.sequence !== undefined'
call fibermanager.v1.FiberManager/Submit "{\"fiber_id\": \"$fiber\", \"input\": {\"binary\": \"AAEC/w==\"}}" |
  check "Submit binary" 'r.sequence !== undefined'

step "GetStatus, Pause, Resume, ListFibers"
call fibermanager.v1.FiberManager/Pause "{\"fiber_id\": \"$fiber\"}" | check "Pause" 'r.fiber.status === "FIBER_STATUS_PAUSED"'
call fibermanager.v1.FiberManager/Resume "{\"fiber_id\": \"$fiber\"}" | check "Resume" 'r.fiber.status !== "FIBER_STATUS_PAUSED"'
call fibermanager.v1.FiberManager/ListFibers '{"labels": {"team": "ops"}}' | check "ListFibers" "r.fibers.some(f => f.fiberId === '$fiber')"
for _ in $(seq 1 200); do # bounded wait until echo has processed both inputs
  processed="$(call fibermanager.v1.FiberManager/GetStatus "{\"fiber_id\": \"$fiber\"}" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).inputsProcessed ?? 0)')"
  [ "$processed" = "2" ] && break
done
call fibermanager.v1.FiberManager/GetStatus "{\"fiber_id\": \"$fiber\"}" | check "GetStatus" 'r.inputsProcessed === "2" && r.outputsPublished === "2"'

step "Interrupt (ends the Subscribe stream after Terminated)"
call fibermanager.v1.FiberManager/Interrupt "{\"fiber_id\": \"$fiber\", \"grace\": \"2s\"}" |
  check "Interrupt" 'r.fiber.status === "FIBER_STATUS_INTERRUPTED"'
wait "$subscriber" || { cat "$work/events.err" >&2; fail "Subscribe exited with $?"; }
# buf curl prints each streamed message as its own JSON document.
node -e '
  const text = require("fs").readFileSync(process.argv[1], "utf8");
  const events = JSON.parse("[" + text.replace(/}\s*{/g, "},{") + "]");
  console.log(JSON.stringify(events.map(e => Object.keys(e).find(k => !["sequence", "time"].includes(k)))));
  const outputs = events.filter(e => e.output).map(e => e.output);
  const ok = JSON.stringify(outputs[0]?.json) === JSON.stringify({ hello: "world", n: [1, 2.5, true, null] })
    && outputs[1]?.binary === "AAEC/w==" && events.at(-1).terminated !== undefined;
  process.exit(ok ? 0 : 1);' "$work/events.json" || { cat "$work/events.json"; fail "Subscribe events"; }

step "an error: GetStatus of an unknown fiber is NOT_FOUND with ErrorInfo FIBER_NOT_FOUND"
set +e
bufcurl -d '{"fiber_id": "no-such-fiber"}' "$url/fibermanager.v1.FiberManager/GetStatus" >"$work/error.out" 2>"$work/error.json"
code=$?
set -e
cat "$work/error.json"
[ "$code" = "40" ] || fail "exit code $code, expected 40 (NOT_FOUND = 5, shifted left by 3)"
check "error" 'r.code === "not_found" && r.details.some(d => d.type === "google.rpc.ErrorInfo" && Buffer.from(d.value, "base64").includes("FIBER_NOT_FOUND"))' <"$work/error.json"

echo "buf curl smoke test passed"
