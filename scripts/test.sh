#!/usr/bin/env bash
# Runs the whole FiberManager test suite: restore, build, unit, functional and contract tests.
# On a fresh machine it first installs what the suites need (see scripts/prerequisites.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/prerequisites.sh

dotnet restore FiberManager.sln
dotnet build FiberManager.sln --no-restore -c Release
dotnet test FiberManager.sln --no-build -c Release --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=1800000
