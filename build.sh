#!/usr/bin/env bash
# Publishes the CLI (Release, Native AOT: no JIT at start-up or in hot loops) to out/strata.
# Set STRATA_NO_AOT=1 for a faster ReadyToRun build while developing.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf out/publish
if [[ ${STRATA_NO_AOT:-0} == 1 ]]; then
  dotnet publish src/Strata.Cli/Strata.Cli.csproj -c Release -o out/publish -p:PublishReadyToRun=true --nologo -v q
else
  dotnet publish src/Strata.Cli/Strata.Cli.csproj -c Release -o out/publish -p:PublishAot=true --nologo -v q
fi
mkdir -p out
ln -sfn publish/strata out/strata
echo "built $(pwd)/out/strata"
