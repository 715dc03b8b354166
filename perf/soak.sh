#!/usr/bin/env bash
# Load and soak over loopback (perf/FiberManager.LoadClient soak; the checks are described in
# perf/FiberManager.LoadClient/Soak.cs and docs/benchmarks.md, "Soak"):
#   starts the service (Release build, `dotnet <dll>`) on a free 127.0.0.1 port, configured through
#   FiberManager__* environment variables; F echo fibers (a few with a deliberately slow subscriber),
#   one Subscribe stream each over C connections, P producers submitting for D seconds while the
#   service's RSS and thread count are sampled; then SIGTERM with the producers still submitting and
#   every stream open. Exit 0 only if every input is accounted for, no normal subscriber saw a gap,
#   every stream ended with its terminated event and OK, the process exited with code 0 within the
#   shutdown timeout, and RSS and threads stayed flat.
# Prints one JSON line ({"name":"soak",...}) on stdout; progress and the checks on stderr.
# Writes perf/results/soak-latest.jsonl (with --smoke: perf/results/tmp/soak-smoke.jsonl) and
# the service's log to perf/results/tmp/soak-{latest,smoke}.service.log.
# Usage: perf/soak.sh [--smoke] [--no-build] [--fibers F] [--connections C] [--producers P]
#                     [--seconds D] [--warmup W] [--slow S] [--heap-limit-mb MB (0: none)]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

smoke=0 build=1 fibers='' connections='' producers='' seconds='' warmup='' slow='' heap_mb=''
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --no-build) build=0 ;;
    --fibers) fibers="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --producers) producers="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --slow) slow="$2"; shift ;;
    --heap-limit-mb) heap_mb="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# Flatness: after W seconds of warm-up load (every fiber's replay window fills, the GC heap grows
# to its steady size), D more seconds are measured and their last third is compared with their
# middle third. The full run compares minutes of steady state (RSS within 10 %, threads within
# +8); the smoke's thirds are a few seconds each, still inside warm-up (tiered JIT, GC heap
# sizing), so it only guards against gross growth.
if [ "$smoke" = 1 ]; then
  fibers=${fibers:-400}; connections=${connections:-4}; producers=${producers:-16}; seconds=${seconds:-10}; warmup=${warmup:-3}; slow=${slow:-2}
  rss_tolerance=0.5 thread_slack=24 heap_mb=${heap_mb:-256}
  out=perf/results/tmp/soak-smoke
else
  fibers=${fibers:-10000}; connections=${connections:-16}; producers=${producers:-64}; seconds=${seconds:-300}; warmup=${warmup:-120}; slow=${slow:-4}
  rss_tolerance=0.10 thread_slack=8 heap_mb=${heap_mb:-768}
  out=perf/results/soak-latest
fi
# The service runs as it would in a container with a memory limit: the GC heap is capped
# (DOTNET_GCHeapHardLimit; .NET sets 75 % of the container's limit by itself, so 768 MB is a
# 1 GiB pod). A leak then ends in an OutOfMemoryException (failed Submits, a failed run) within
# minutes instead of hiding in Server GC's budget on this 24 GiB machine. --heap-limit-mb 0 runs
# uncapped (docs/benchmarks.md, "Soak", has both).
heap_env=()
[ "$heap_mb" != 0 ] && heap_env=("DOTNET_GCHeapHardLimit=$(printf '0x%X' $((heap_mb * 1024 * 1024)))")
grace=20 # the host's shutdown timeout (FiberManager:Server:ShutdownTimeout), fiber grace 5 s inside it

service_dll=src/FiberManager.Service/bin/Release/net10.0/FiberManager.Service.dll
client_dll=perf/FiberManager.LoadClient/bin/Release/net10.0/FiberManager.LoadClient.dll
if [ "$build" = 1 ] || [ ! -f "$service_dll" ] || [ ! -f "$client_dll" ]; then
  for project in src/FiberManager.Service perf/FiberManager.LoadClient; do
    dotnet build "$project" -c Release --nologo -v quiet >&2
  done
fi
loadclient() { dotnet "$client_dll" "$@"; }

work=$(mktemp -d /tmp/fm-soak.XXXXXX)
svc_pid=''
cleanup() {
  if [ -n "$svc_pid" ] && kill -0 "$svc_pid" 2>/dev/null; then
    kill "$svc_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$svc_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(loadclient port)
ASPNETCORE_URLS="http://127.0.0.1:$port" \
FiberManager__Server__ShutdownTimeout="00:00:$(printf '%02d' "$grace")" \
FiberManager__InterruptGracePeriod=00:00:05 \
FiberManager__MaxConcurrentFibers=$((fibers + 100)) \
Logging__LogLevel__Default=Warning \
  env "${heap_env[@]}" dotnet "$service_dll" > "$work/service.log" 2>&1 &
svc_pid=$!
for _ in $(seq 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$svc_pid" 2>/dev/null || { echo "the service exited early:" >&2; cat "$work/service.log" >&2; exit 1; }
  sleep 0.1
done
echo "service pid $svc_pid on 127.0.0.1:$port; soak: $fibers fibers ($slow slow), $connections connections, $producers producers, $warmup s warm-up + $seconds s, GC heap limit ${heap_mb} MB (0: none)" >&2

mkdir -p "$(dirname "$out")"
set +e
loadclient soak --url "http://127.0.0.1:$port" --pid "$svc_pid" --fibers "$fibers" --connections "$connections" \
  --producers "$producers" --seconds "$seconds" --warmup "$warmup" --slow "$slow" --grace "$grace" \
  --rss-tolerance "$rss_tolerance" --thread-slack "$thread_slack" > "$work/soak.json"
client_rc=$?
set -e

# The client sent SIGTERM and watched the process end; collect its exit code (bounded: if the
# client failed before SIGTERM, the service is still running and is stopped here).
service_rc=-1
for _ in $(seq $(( (grace + 5) * 10 ))); do
  state=$(awk '/^State:/ { print $2 }' "/proc/$svc_pid/status" 2>/dev/null || true)
  if [ -z "$state" ] || [ "$state" = Z ]; then
    wait "$svc_pid" && service_rc=0 || service_rc=$?
    svc_pid=''
    break
  fi
  sleep 0.1
done
if [ -n "$svc_pid" ]; then
  echo "the service did not exit within $((grace + 5)) s of the run's end" >&2
fi
mkdir -p perf/results/tmp
cp "$work/service.log" "perf/results/tmp/$(basename "$out").service.log"
grep -E -A3 '^(fail|crit)' "$work/service.log" | head -40 >&2 || true

line=$(cat "$work/soak.json")
if [ -z "$line" ]; then
  echo "the soak client printed no result (exit $client_rc)" >&2
  exit 1
fi
ok=false
[ "$client_rc" = 0 ] && [ "$service_rc" = 0 ] && ok=true
line=$(sed -E "s/\"ok\":(true|false)\}\$/\"service_exit_code\":$service_rc,\"ok\":$ok}/" <<< "$line")
echo "$line" | tee "$out.jsonl"
echo "service exit code $service_rc (must be 0); wrote $out.jsonl" >&2
[ "$ok" = true ]
