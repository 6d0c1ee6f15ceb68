#!/usr/bin/env bash
# A throwaway PostgreSQL (the newest installed major version; Debian 12: 15) on 127.0.0.1:5433 for the database
# tests. Superuser postgres with password postgres-test over TCP (scram-sha-256: a wrong password is refused),
# trust on its own Unix socket. fsync off: the data is scratch. Runs as root (initdb and the server run as the
# postgres user). Data, socket and log live in
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/postgres
# Usage: postgres.sh install | start | stop | status
# Costs: install downloads about 50 MB; start takes ~2 s (initdb ~1 s the first time).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/postgres
PORT=5433
PASSWORD=postgres-test
PACKAGES=(postgresql postgresql-client)

log() { echo "postgres.sh: $*" >&2; }

# The bin folder of the newest installed server (initdb, pg_ctl), or nothing.
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

installed() {
    local b
    b=$(bindir)
    [ -n "$b" ] && [ -x "$b/initdb" ] && [ -x "$b/pg_ctl" ] && command -v pg_isready >/dev/null 2>&1 && command -v pg_dump >/dev/null 2>&1
}

answering() { pg_isready -q -h 127.0.0.1 -p "$PORT" -t 2 2>/dev/null; }

cmd_install() {
    if installed; then
        log "PostgreSQL is already installed ($(bindir))"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "installing needs root (apt-get install ${PACKAGES[*]})"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet: update once when the first try cannot find the packages.
    if ! apt-get install -y -q "${PACKAGES[@]}"; then
        log "apt-get install failed; running apt-get update and trying again"
        apt-get update -q
        apt-get install -y -q "${PACKAGES[@]}"
    fi
    installed || { log "packages installed but initdb, pg_ctl, pg_isready or pg_dump is still missing"; return 1; }
}

as_postgres() { runuser -u postgres -- "$@"; }

cmd_start() {
    if answering; then
        log "already answering on 127.0.0.1:$PORT"
        return 0
    fi
    installed || cmd_install
    exec 9>/tmp/strata-postgres.lock
    flock -w 120 9 || { log "another start holds /tmp/strata-postgres.lock"; return 1; }
    if answering; then
        log "already answering on 127.0.0.1:$PORT"
        return 0
    fi
    local b
    b=$(bindir)
    mkdir -p "$D"
    # The postgres user must reach its folder: make the path to it searchable (never readable) where it is not.
    local dir=$D
    while [ "$dir" != / ]; do
        if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
    if [ ! -f "$D/data/PG_VERSION" ]; then
        rm -rf "$D/data"
        mkdir -p "$D/data"
        chown postgres: "$D/data"
        chmod 700 "$D/data"
        local pwfile
        pwfile=$(mktemp)
        echo "$PASSWORD" > "$pwfile"
        chown postgres: "$pwfile"
        as_postgres "$b/initdb" -D "$D/data" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$D/initdb.log" 2>&1 || { rm -f "$pwfile"; log "initdb failed; see $D/initdb.log"; tail -n 20 "$D/initdb.log" >&2; return 1; }
        rm -f "$pwfile"
    fi
    mkdir -p "$D/run"
    chown postgres: "$D/run" "$D"
    if ! as_postgres "$b/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D/run -c fsync=off -c full_page_writes=off" start 9>&- >/dev/null; then
        log "the server did not start; see $D/server.log"
        tail -n 20 "$D/server.log" >&2 || true
        return 1
    fi
    answering || { log "started but not answering on 127.0.0.1:$PORT"; return 1; }
    log "PostgreSQL $("$b/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PORT (user postgres, password $PASSWORD; data in $D)"
}

cmd_stop() {
    local b
    b=$(bindir)
    if [ -n "$b" ] && [ -f "$D/data/postmaster.pid" ]; then
        as_postgres "$b/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    log "stopped"
}

cmd_status() {
    if answering; then
        echo "postgres answering on 127.0.0.1:$PORT"
    else
        echo "postgres not answering on 127.0.0.1:$PORT"
        return 1
    fi
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
