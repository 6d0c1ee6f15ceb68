#!/usr/bin/env bash
# Installs what the tests need, builds, runs every test project and prints the totals.
#
#   scripts/test.sh
#
# 1. Debian packages the tests call (attr, time, zstd, git; restic and borgbackup only when a test runs them),
#    installed with apt-get when missing (needs root then; nothing is installed when all are present).
# 2. The servers: scripts/services/radosgw.sh (S3), postgres.sh (PostgreSQL on :5433), mariadb.sh (MariaDB on
#    :3307) and sshd.sh (SFTP on :2222), each install + start when its script exists and nothing answers yet. A server this script started is
#    stopped when it exits; one already running is left alone. STRATA_REQUIRE_DATABASES=1 is exported, so the
#    database tests fail (instead of skipping) when their server is down.
# 3. scripts/install.sh (the build's own packages, then ./build.sh: the Release CLI in out/strata), then
#    dotnet build Strata.slnx.
# 4. dotnet test for each test project of Strata.slnx, one TRX file each under TestResults/.
# The last line is "N passed, N failed, N skipped". Exit status: 0 only when every project ran, nothing
# failed and at least one test ran. Needs the .NET SDK on PATH; reaches only apt and NuGet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive

log() { echo "test.sh: $*" >&2; }

if ! command -v dotnet >/dev/null 2>&1; then
    log "the .NET SDK (dotnet) is not on PATH; install the .NET 10 SDK first"
    exit 1
fi

# ---- 1. packages -------------------------------------------------------------------------------------------
# attr: getfattr/setfattr to set up and inspect xattrs; time: /usr/bin/time -v; zstd: the zstd CLI;
# git: the oracle of the --gitignore tests (git check-ignore) and their work trees.
PACKAGES=(attr time zstd git)
# The reference tools are installed only when a test starts them (a quoted command name in a test file).
if grep -rqE --include='*.cs' '"(restic|borg)"' tests 2>/dev/null; then
    PACKAGES+=(restic borgbackup)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
    local missing=() p
    for p in "$@"; do
        installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            log "missing packages ${missing[*]}: run as root or install them with apt-get"
            return 1
        fi
    fi
    log "installing ${missing[*]}"
    # A fresh machine may have no package lists yet: update once when the first try fails.
    if ! "${sudo[@]}" apt-get install -y -q "${missing[@]}"; then
        "${sudo[@]}" apt-get update -q
        "${sudo[@]}" apt-get install -y -q "${missing[@]}"
    fi
}

if command -v apt-get >/dev/null 2>&1; then
    install_packages "${PACKAGES[@]}"
else
    log "no apt-get: make sure ${PACKAGES[*]} are installed"
fi

# ---- 2. the servers ------------------------------------------------------------------------------------------
SERVICES=(radosgw postgres mariadb webdav sshd azurite)
STARTED=()
stop_services() {
    local s
    for s in "${STARTED[@]}"; do
        bash "scripts/services/$s.sh" stop || true
    done
    STARTED=()
}
trap stop_services EXIT
trap 'exit 130' INT TERM

for service in "${SERVICES[@]}"; do
    script=scripts/services/$service.sh
    [ -f "$script" ] || continue
    if bash "$script" status >/dev/null 2>&1; then
        log "$service is already running; using it and leaving it running"
    else
        STARTED+=("$service")
        if ! { bash "$script" install && bash "$script" start; }; then
            log "$service did not start: its tests will fail and say why"
        fi
    fi
done
export STRATA_REQUIRE_DATABASES=1

# ---- 3. build -----------------------------------------------------------------------------------------------
t0=$SECONDS
bash scripts/install.sh
dotnet build Strata.slnx --nologo -v q
log "built in $((SECONDS - t0)) s"

# ---- 4. tests -----------------------------------------------------------------------------------------------
mapfile -t PROJECTS < <(grep -oE 'Path="tests/[^"]+\.csproj"' Strata.slnx | sed -E 's/^Path="(.*)"$/\1/')
if [ ${#PROJECTS[@]} -eq 0 ]; then
    log "Strata.slnx lists no test projects"
    exit 1
fi

RESULTS=$ROOT/TestResults
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# One number from the Counters element of a TRX file.
counter() { grep -o '<Counters [^>]*>' "$1" | grep -oE " $2=\"[0-9]+\"" | grep -oE '[0-9]+' || echo 0; }

passed=0 failed=0 skipped=0 broken=()
for proj in "${PROJECTS[@]}"; do
    name=$(basename "$proj" .csproj)
    trx=$RESULTS/$name.trx
    log "running $name"
    t0=$SECONDS
    rc=0
    # A test that hangs for 15 minutes is killed and reported, so CI ends with an answer.
    dotnet test "$proj" --no-build --nologo \
        --logger "console;verbosity=normal" --logger "trx;LogFileName=$trx" --results-directory "$RESULTS" \
        --blame-hang-timeout 15m --blame-hang-dump-type none || rc=$?
    if [ ! -f "$trx" ]; then
        log "$name: no results file (exit status $rc): counted as one failure"
        failed=$((failed + 1))
        broken+=("$name")
        continue
    fi
    total=$(counter "$trx" total)
    p=$(counter "$trx" passed)
    f=$(( $(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted) ))
    s=$(( total - p - f ))
    [ "$s" -lt 0 ] && s=0
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        log "$name: dotnet test exited with $rc but reported no failed test (crashed test host?): counted as one failure"
        f=1
    fi
    [ "$f" -gt 0 ] && broken+=("$name")
    echo "$name: $p passed, $f failed, $s skipped ($((SECONDS - t0)) s)"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

# Stop the servers now, so that the totals are the last line printed.
stop_services

status=0
if [ ${#broken[@]} -gt 0 ]; then
    log "failures in: ${broken[*]} (TRX files in $RESULTS)"
    status=1
fi
if [ $((passed + failed)) -eq 0 ]; then
    log "no test ran"
    status=1
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
