#!/usr/bin/env bash
# Publishes the CLI (Release, Native AOT: no JIT at start-up or in hot loops) to out/strata, and beside it
# out/strata-server: the same CLI with the HTTP server built in, which 'strata serve' runs.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf out
dotnet publish src/Strata.Cli/Strata.Cli.csproj -c Release -o out -p:PublishAot=true --nologo -v q
dotnet publish src/Strata.Server.Cli/Strata.Server.Cli.csproj -c Release -o out -p:PublishAot=true --nologo -v q
echo "built $(pwd)/out/strata and $(pwd)/out/strata-server"
