#!/usr/bin/env bash
# Interleaved rounds of in-process workloads, for same-machine medians: each round runs every
# named workload once, in a fresh process each, in the order given, so that the variants of a
# pair see the same machine load. Prints one JSON line per run (with "round" and "build" added),
# then a summary: per workload the median of the chosen metric, and per FM/bare pair the
# median of the per-round ratios.
# Usage: perf/rounds.sh [--rounds N] [--baseline DIR]... [--no-build] [--n N] WORKLOAD...
#   --rounds N      rounds (default 5)
#   --baseline DIR  also run each workload from the Workloads build under DIR (another checkout,
#                   already built), right after this build's run; "build" is DIR's last path
#                   component there. May be given more than once.
#   --n N           pass --n N to every workload (default: the workload's BENCHMARKS.md size)
#   WORKLOAD        names from `dotnet FiberManager.Workloads.dll list`, e.g. w3 w3.bare w2 w2.bare
# Example: perf/rounds.sh --rounds 5 w3 w3.bare > perf/results/tmp/w3-rounds.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

rounds=5 baselines=() build=1 size=()
workloads=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --baseline) baselines+=("$2"); shift ;;
    --no-build) build=0 ;;
    --n) size=(--n "$2"); shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) workloads+=("$1") ;;
  esac
  shift
done
[ "${#workloads[@]}" -gt 0 ] || { echo "name at least one workload" >&2; exit 2; }

dll=perf/FiberManager.Workloads/bin/Release/net10.0/FiberManager.Workloads.dll
if [ "$build" = 1 ] || [ ! -f "$dll" ]; then
  dotnet build perf/FiberManager.Workloads/FiberManager.Workloads.csproj -c Release --nologo -v quiet >&2
fi
for baseline in "${baselines[@]}"; do
  [ -f "$baseline/$dll" ] || { echo "no build at $baseline/$dll" >&2; exit 2; }
done

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
run() { # build-label dll workload round
  local line
  if line=$(timeout 900 dotnet "$2" "$3" "${size[@]}"); then :; else echo "workload $3 ($1) failed" >&2; fi
  [ -n "$line" ] || return 0
  line="${line%\}},\"round\":$4,\"build\":\"$1\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}"
  echo "$line" | tee -a "$lines"
}

for round in $(seq 1 "$rounds"); do
  for workload in "${workloads[@]}"; do
    run current "$dll" "$workload" "$round"
    for baseline in "${baselines[@]}"; do
      run "$(basename "$baseline")" "$baseline/$dll" "$workload" "$round"
    done
  done
done

python3 - "$lines" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def metric(r):
    # Rates are compared by ops/s; W2 by heap bytes per fiber.
    return r.get("heap_bytes_per_fiber") if r["name"] in ("w2", "w2.bare") else r.get("ops_per_sec")
print("\nsummary (medians over rounds):", file=sys.stderr)
keys = sorted({(r["build"], r["name"]) for r in runs})
for build, name in keys:
    mine = [r for r in runs if r["build"] == build and r["name"] == name]
    values = [metric(r) for r in mine]
    lost = [r.get("outputs_lost_to_gaps") for r in mine if "outputs_lost_to_gaps" in r]
    extra = f" outputs_lost_to_gaps {lost}" if lost else ""
    print(f"  {build:8} {name:20} median {statistics.median(values):>14,.1f}  runs {[round(v, 1) for v in values]}{extra}", file=sys.stderr)
for build in sorted({r["build"] for r in runs}):
    for name in sorted({r["name"] for r in runs if r["build"] == build and not r["name"].endswith(".bare")}):
        ratios = []
        for rnd in sorted({r["round"] for r in runs}):
            fm = [metric(r) for r in runs if r["build"] == build and r["name"] == name and r["round"] == rnd]
            bare = [metric(r) for r in runs if r["build"] == "current" and r["name"] == name + ".bare" and r["round"] == rnd]
            if fm and bare and bare[0]:
                ratios.append(fm[0] / bare[0])
        if ratios:
            print(f"  {build:8} {name:20} / bare (same round): median {statistics.median(ratios):.2f}  rounds {[round(x, 2) for x in ratios]}", file=sys.stderr)
EOF
