#!/usr/bin/env bash
# Runs the whole FiberManager test suite: unit, functional (real Kestrel), contract (real Python,
# Node and buf peers), Helm chart checks and the benchmark smoke run. On a fresh machine it first
# installs what the suites need (scripts/prerequisites.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/prerequisites.sh

dotnet restore FiberManager.sln
dotnet build FiberManager.sln --no-restore -c Release

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test FiberManager.sln --no-build -c Release --logger "console;verbosity=normal" \
  -- RunConfiguration.TestSessionTimeout=2400000 2>&1 | tee "$log" || status=$?

# One plain summary line over every test project ("Passed: N" / "Failed: N" per project).
# (awk alone: a grep that matches nothing would end the script under `set -eo pipefail`)
passed=$(awk '$1 == "Passed:" && $2 ~ /^[0-9]+$/ && NF == 2 {s += $2} END {print s + 0}' "$log")
failed=$(awk '$1 == "Failed:" && $2 ~ /^[0-9]+$/ && NF == 2 {s += $2} END {print s + 0}' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run failed outside a test (build, crash, timeout): never report it as all passed
fi
echo "Summary: $passed passed, $failed failed"
exit "$status"
