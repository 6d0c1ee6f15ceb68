#!/usr/bin/env bash
# Publishes the CLI (Release) to out/strata.
set -euo pipefail
cd "$(dirname "$0")"
dotnet publish src/Strata.Cli/Strata.Cli.csproj -c Release -o out/publish -p:PublishReadyToRun=true --nologo -v q
ln -sf publish/strata out/strata
echo "built $(pwd)/out/strata"
