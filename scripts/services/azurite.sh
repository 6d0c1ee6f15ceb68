#!/usr/bin/env bash
# Azurite (Microsoft's Azure Storage emulator), Blob service only, on 127.0.0.1:10000 for the Azure store tests:
# account devstoreaccount1 with the emulator's well-known key, --skipApiVersionCheck (Azure.Storage.Blobs 12.30 speaks
# a newer service version than Azurite announces). Azurite keeps the Archive tier (a read answers 409 BlobArchived)
# but rehydrates at once: a thaw is not emulated. npm azurite@3.37.0 is installed into the state folder
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/azurite
# (node and npm come from apt when missing). Usage: azurite.sh install | start | stop | status
# Costs: install fills about 360 MB of node_modules from npm (~70 s); start takes ~3 s. Azurite 3.37 asks for node >= 22
# in its package.json but runs on node 20 here; npm only warns about it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/azurite
VERSION=3.37.0
PORT=10000
URL=http://127.0.0.1:$PORT/devstoreaccount1
BIN=$D/node_modules/.bin/azurite-blob

log() { echo "azurite.sh: $*" >&2; }

# Any HTTP answer counts (Azurite answers 400 to a bare GET of the account).
answering() { curl -s -m 2 -o /dev/null "$URL?comp=list" 2>/dev/null; }

installed() { [ -x "$BIN" ] && [ "$(node -p "require('$D/node_modules/azurite/package.json').version" 2>/dev/null)" = "$VERSION" ]; }

install_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "node, npm and curl are needed: run as root or apt-get install nodejs npm curl"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q nodejs npm curl; then
        log "apt-get install failed; running apt-get update and trying again"
        apt-get update -q
        apt-get install -y -q nodejs npm curl
    fi
}

cmd_install() {
    install_node
    if installed; then
        log "azurite $VERSION is already installed in $D"
        return 0
    fi
    mkdir -p "$D"
    [ -f "$D/package.json" ] || echo '{"name":"strata-azurite","private":true}' > "$D/package.json"
    (cd "$D" && npm install --no-audit --no-fund --loglevel=error "azurite@$VERSION")
    installed || { log "npm install finished but $BIN is missing"; return 1; }
}

cmd_start() {
    if answering; then
        log "already answering on $URL"
        return 0
    fi
    installed || cmd_install
    mkdir -p "$D/data"
    # The data folder starts empty each time: the tests use their own containers and need nothing kept.
    rm -rf "$D/data"/*
    nohup "$BIN" --blobHost 127.0.0.1 --blobPort $PORT -l "$D/data" --disableTelemetry -s --skipApiVersionCheck \
        >"$D/azurite.log" 2>&1 </dev/null &
    echo $! > "$D/azurite.pid"
    local i
    for i in $(seq 1 120); do
        if answering; then
            log "azurite up on $URL (account devstoreaccount1, data in $D/data)"
            return 0
        fi
        kill -0 "$(cat "$D/azurite.pid")" 2>/dev/null || break
        sleep 0.25
    done
    log "azurite did not answer on $URL; see $D/azurite.log"
    tail -n 20 "$D/azurite.log" >&2 2>/dev/null || true
    return 1
}

cmd_stop() {
    local p
    if [ -f "$D/azurite.pid" ]; then
        p=$(cat "$D/azurite.pid")
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$p" 2>/dev/null || break
                sleep 0.2
            done
            kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
        fi
        rm -f "$D/azurite.pid"
    fi
    log "stopped"
}

cmd_status() {
    if answering; then
        echo "azurite answering on $URL"
    else
        echo "azurite not answering on $URL"
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
