#!/usr/bin/env bash
# A throwaway MariaDB on 127.0.0.1:3307 for the database tests. An admin user strata_admin with password
# mariadb-test (all privileges, from 127.0.0.1 and localhost); root has no password on the server's own Unix
# socket. Runs as root (the server runs as the mysql user). Data, socket, pid file and log live in
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/mariadb
# Usage: mariadb.sh install | start | stop | status
# Costs: install downloads about 30 MB (~1 min); start takes ~1 s (plus ~2 s to create the data the first time).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/mariadb
PORT=3307
ADMIN=strata_admin
PASSWORD=mariadb-test
PACKAGES=(mariadb-server mariadb-client)
SOCK=$D/run/mysqld.sock

log() { echo "mariadb.sh: $*" >&2; }

installed() {
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || return 1
    command -v mariadb-install-db >/dev/null 2>&1 && command -v mariadb >/dev/null 2>&1 && command -v mariadb-dump >/dev/null 2>&1
}

server() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

answering() { MYSQL_PWD=$PASSWORD mariadb-admin --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PORT" -u "$ADMIN" --connect-timeout=2 ping >/dev/null 2>&1; }

cmd_install() {
    if installed; then
        log "MariaDB is already installed"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "installing needs root (apt-get install ${PACKAGES[*]})"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${PACKAGES[@]}"; then
        log "apt-get install failed; running apt-get update and trying again"
        apt-get update -q
        apt-get install -y -q "${PACKAGES[@]}"
    fi
    installed || { log "packages installed but mariadbd, mariadb-install-db, mariadb or mariadb-dump is still missing"; return 1; }
}

as_mysql() { runuser -u mysql -- "$@"; }

running_pid() {
    local p
    [ -f "$D/run/mariadb.pid" ] || return 1
    p=$(cat "$D/run/mariadb.pid")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

cmd_start() {
    if answering; then
        log "already answering on 127.0.0.1:$PORT"
        return 0
    fi
    installed || cmd_install
    exec 9>/tmp/strata-mariadb.lock
    flock -w 120 9 || { log "another start holds /tmp/strata-mariadb.lock"; return 1; }
    if answering; then
        log "already answering on 127.0.0.1:$PORT"
        return 0
    fi
    mkdir -p "$D"
    local dir=$D
    while [ "$dir" != / ]; do
        if ! runuser -u mysql -- test -x "$dir" 2>/dev/null; then
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
    local fresh=0
    if [ ! -d "$D/data/mysql" ]; then
        rm -rf "$D/data"
        mkdir -p "$D/data"
        chown mysql: "$D/data"
        as_mysql mariadb-install-db --no-defaults --datadir="$D/data" --auth-root-authentication-method=normal \
            --skip-test-db >"$D/install-db.log" 2>&1 || { log "mariadb-install-db failed; see $D/install-db.log"; tail -n 20 "$D/install-db.log" >&2; return 1; }
        fresh=1
    fi
    mkdir -p "$D/run"
    chown mysql: "$D/run"
    if ! running_pid >/dev/null; then
        # setsid + nohup: the server outlives this script and the test run's process group
        setsid nohup runuser -u mysql -- "$(server)" --no-defaults --datadir="$D/data" --socket="$SOCK" --port="$PORT" \
            --bind-address=127.0.0.1 --pid-file="$D/run/mariadb.pid" --skip-log-bin --log-error="$D/server.log" \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci </dev/null >/dev/null 2>&1 9>&- &
    fi
    local i
    for i in $(seq 1 120); do
        [ -S "$SOCK" ] && mariadb-admin --no-defaults --socket="$SOCK" -u root ping >/dev/null 2>&1 && break
        sleep 0.25
    done
    if ! mariadb-admin --no-defaults --socket="$SOCK" -u root ping >/dev/null 2>&1; then
        log "the server did not answer on $SOCK within 30 s; see $D/server.log"
        tail -n 20 "$D/server.log" >&2 || true
        return 1
    fi
    # The admin the tests use over TCP (from 127.0.0.1, which the server may also see as localhost).
    mariadb --no-defaults --socket="$SOCK" -u root <<SQL
CREATE USER IF NOT EXISTS '$ADMIN'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$ADMIN'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN'@'localhost' WITH GRANT OPTION;
SQL
    answering || { log "started but $ADMIN cannot log in over TCP on 127.0.0.1:$PORT"; return 1; }
    [ "$fresh" = 1 ] && log "created the data folder"
    log "MariaDB $("$(server)" --version | awk '{print $3}') up on 127.0.0.1:$PORT (user $ADMIN, password $PASSWORD; data in $D)"
}

cmd_stop() {
    local p
    if p=$(running_pid); then
        kill "$p" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
    fi
    log "stopped"
}

cmd_status() {
    if answering; then
        echo "mariadb answering on 127.0.0.1:$PORT"
    else
        echo "mariadb not answering on 127.0.0.1:$PORT"
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
