#!/usr/bin/env bash
# Runs every in-process workload of BENCHMARKS.md (W1-W4) in a fresh process each, the
# FiberManager variant and its bare-.NET twin back to back, and writes
#   perf/results/latest.jsonl  one JSON line per workload
#   perf/results/latest.md     the table: absolute figures, FM / bare (same run), FM / Effect-TS
# Usage: perf/run-all.sh [--smoke] [--no-build] [--only <regex>]
#   --smoke     tiny sizes (seconds); results go to perf/results/tmp/smoke.{jsonl,md}
#   --no-build  use the existing Release build (the test suite passes this)
#   --only RE   run only the workloads whose name matches RE (e.g. '^w3')
# Exit status: 0 when every workload ran and passed its checks, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

smoke=0 build=1 only=''
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --no-build) build=0 ;;
    --only) only="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

project=perf/FiberManager.Workloads/FiberManager.Workloads.csproj
dll=perf/FiberManager.Workloads/bin/Release/net10.0/FiberManager.Workloads.dll
if [ "$build" = 1 ] || [ ! -f "$dll" ]; then
  dotnet build "$project" -c Release --nologo -v quiet >&2
fi

if [ "$smoke" = 1 ]; then
  out=perf/results/tmp/smoke
  mode=(--smoke)
else
  out=perf/results/latest
  mode=()
fi
mkdir -p "$(dirname "$out")"
tmp="$out.jsonl.partial"
: > "$tmp"

failed=0
for workload in $(dotnet "$dll" list); do
  if [ -n "$only" ] && ! [[ "$workload" =~ $only ]]; then
    continue
  fi
  echo "== $workload" >&2
  # One fresh process per workload; bounded so that a hang cannot stall the run.
  if line=$(timeout 900 dotnet "$dll" "$workload" "${mode[@]}"); then
    echo "$line" >> "$tmp"
    echo "$line" >&2
  else
    rc=$?
    echo "workload $workload failed (exit $rc)" >&2
    [ -n "$line" ] && echo "$line" >> "$tmp" && echo "$line" >&2
    failed=1
  fi
done

mv "$tmp" "$out.jsonl"
command="perf/run-all.sh"
[ "$smoke" = 1 ] && command+=" --smoke"
[ -n "$only" ] && command+=" --only '$only'"
dotnet "$dll" report "$out.jsonl" --command "$command" > "$out.md"
cat "$out.jsonl"
echo "wrote $out.jsonl and $out.md" >&2
exit "$failed"
