#!/usr/bin/env bash
# Installs Strata from this checkout.
#
#   scripts/install.sh            build the CLI into out/strata
#   scripts/install.sh --link     also link /usr/local/bin/strata and strata-server to them (or $PREFIX/bin/...)
#
# Checks for the .NET SDK and installs the Debian packages that are missing (apt-get, as root or through
# sudo): what the Native AOT build links with (gcc or clang, binutils, libc6-dev, zlib1g-dev) and what the
# program needs at run time (libzstd1; ca-certificates for TLS to remote stores). Then publishes the CLI
# with ./build.sh and checks that it starts. Safe to run again, e.g. after a git pull: it only rebuilds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "install.sh: $*" >&2; }

LINK=0
for arg in "$@"; do
    case "$arg" in
        --link) LINK=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) log "unknown argument '$arg' (usage: scripts/install.sh [--link])"; exit 2 ;;
    esac
done

if ! command -v dotnet >/dev/null 2>&1; then
    log "the .NET SDK (dotnet) is not on PATH: install the .NET 10 SDK, then run this again"
    exit 1
fi

# Native AOT links with the system toolchain (clang, else gcc; objcopy strips symbols; -lz needs zlib1g-dev).
# At run time: libzstd1 (zstd; a slower managed fallback is built in), ca-certificates; libsodium ships beside
# the binary and globalization is invariant (no libicu).
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
if ! command -v clang >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    missing+=(clang)
fi
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
for p in libc6-dev zlib1g-dev ca-certificates libzstd1; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        log "please install ${missing[*]} (no apt-get here)"
    else
        sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null 2>&1 || { log "${missing[*]} missing: run as root or install with apt-get"; exit 1; }
            sudo=(sudo)
        fi
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! "${sudo[@]}" apt-get install -y -q "${missing[@]}"; then
            "${sudo[@]}" apt-get update -q
            "${sudo[@]}" apt-get install -y -q "${missing[@]}"
        fi
    fi
fi

./build.sh

for bin in strata strata-server; do
    if ! "out/$bin" --version >/dev/null; then
        log "out/$bin was built but does not start"
        exit 1
    fi
done

if [ "$LINK" = 1 ]; then
    bindir=${PREFIX:-/usr/local}/bin
    mkdir -p "$bindir"
    for bin in strata strata-server; do
        ln -sfn "$ROOT/out/$bin" "$bindir/$bin"
        log "linked $bindir/$bin -> $ROOT/out/$bin"
    done
fi
log "strata $(out/strata --version) is ready: $ROOT/out/strata"
