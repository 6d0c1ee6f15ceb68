#!/usr/bin/env bash
# A throwaway single-node Ceph (mon + memstore OSD + radosgw) serving S3 on 127.0.0.1:7480 for the
# conformance tests: keys TESTAK / TESTSECRET (and a second user TESTWRITER / TESTWRITERSECRET that owns nothing), auth none inside the cluster, storage classes GLACIER and
# DEEP_ARCHIVE added to the default placement (radosgw stores them but reads them at once and answers
# RestoreObject with 501). Runs as root on Debian 12. Data (memstore: all in RAM, up to 2 GiB) and logs live in
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/ceph
# Usage: radosgw.sh install | start | stop | status
# Costs: install downloads about 270 MB (~40 s); start takes ~15 s; the first bucket takes ~2 s more.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/ceph
PORT=7480
URL=http://127.0.0.1:$PORT/
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl)
COMMANDS=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl)

log() { echo "radosgw.sh: $*" >&2; }

installed() {
    local c
    for c in "${COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || return 1
    done
}

answering() { curl -s -m 2 -o /dev/null "$URL"; }

cmd_install() {
    if installed; then
        log "ceph and radosgw are already installed"
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
    installed || { log "packages installed but some commands are still missing"; return 1; }
}

# Kills the daemons whose pid files are under $D/run and waits for them to exit.
kill_daemons() {
    local pids="" f p
    for f in "$D"/run/*.pid; do
        if [ -f "$f" ]; then
            p=$(cat "$f")
            if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
                pids="$pids $p"
            fi
        fi
    done
    [ -z "$pids" ] && return 0
    kill $pids 2>/dev/null || true
    for p in $pids; do
        for _ in $(seq 1 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
    done
}

wait_answering() {
    local i
    for i in $(seq 1 240); do
        answering && return 0
        sleep 0.25
    done
    log "radosgw did not answer on $URL within 60 s; see $D/log/client.rgw.a.log"
    tail -n 20 "$D/log/client.rgw.a.log" >&2 2>/dev/null || true
    return 1
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The test users, also on a radosgw that an older version of this script started (from any checkout): the
# conf sits beside the --rgw-data folder of the running daemon.
ensure_users() {
    local data conf
    data=$(pgrep -a radosgw | sed -n 's/.*--rgw-data=\([^ ]*\).*/\1/p' | head -n 1)
    [ -n "$data" ] || return 0
    conf=$(dirname "$data")/ceph.conf
    [ -f "$conf" ] || return 0
    if ! CEPH_CONF=$conf radosgw-admin user info --uid=policy-writer >/dev/null 2>&1; then
        CEPH_CONF=$conf radosgw-admin user create --uid=policy-writer --display-name=policy-writer --access-key=TESTWRITER --secret-key=TESTWRITERSECRET >/dev/null 2>&1 || true
    fi
}

cmd_start() {
    if answering; then
        ensure_users
        log "already answering on $URL"
        return 0
    fi
    installed || cmd_install
    # One start at a time on this machine (the ports are the machine's, whichever checkout runs this).
    exec 9>/tmp/strata-radosgw.lock
    flock -w 120 9 || { log "another start holds /tmp/strata-radosgw.lock"; return 1; }
    if answering; then
        log "already answering on $URL"
        return 0
    fi
    if port_taken 6789 || port_taken $PORT; then
        # A cluster from another folder is coming up (or is stuck): wait for it rather than fight for its ports.
        log "ports 6789/$PORT are taken by another Ceph; waiting for it to answer"
        wait_answering && { log "answering on $URL (started elsewhere)"; return 0; }
        log "ports 6789/$PORT are taken but nothing answers S3; stop the other Ceph first"
        return 1
    fi
    # A previous cluster in this folder is stale (memstore lost its data when it stopped): start afresh.
    kill_daemons
    rm -rf "$D"
    mkdir -p "$D/mon" "$D/osd" "$D/log" "$D/run" "$D/rgw"
    local fsid osd_uuid osd_id rgw_pid
    fsid=$(uuidgen)
    cat > "$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = 127.0.0.1:6789
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
# Without this the OSD sometimes fails its start ('wrong fsid' race).
osd crush update on start = false
osd class update on start = false
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
mon data = $D/mon/\$name
osd data = $D/osd/\$name
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
ms bind ipv6 = false
public addr = 127.0.0.1
ms_mon_client_mode = crc
mon_warn_on_pool_no_redundancy = false
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = localhost
CONF
    export CEPH_CONF=$D/ceph.conf
    ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --add a 127.0.0.1:6789 --fsid "$fsid" "$D/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
    ceph-mon -i a 9>&-
    osd_uuid=$(uuidgen)
    osd_id=$(ceph osd create "$osd_uuid")
    mkdir -p "$D/osd/osd.$osd_id"
    ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >"$D/log/osd-mkfs.log" 2>&1
    ceph osd crush add "osd.$osd_id" 1.0 host=localhost root=default >/dev/null 2>&1 || true
    ceph-osd -i "$osd_id" 9>&-
    radosgw -n client.rgw.a --rgw-data="$D/rgw" 9>&-
    wait_answering
    radosgw-admin user create --uid=test --display-name=test --access-key=TESTAK --secret-key=TESTSECRET >/dev/null
    # A second user that owns nothing: tests grant it access with bucket policies (strata s3 policy).
    radosgw-admin user create --uid=policy-writer --display-name=policy-writer --access-key=TESTWRITER --secret-key=TESTWRITERSECRET >/dev/null
    local sc
    for sc in GLACIER DEEP_ARCHIVE; do
        radosgw-admin zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class "$sc" >/dev/null
        radosgw-admin zone placement add --rgw-zone default --placement-id default-placement --storage-class "$sc" --data-pool "default.rgw.$sc.data" >/dev/null
    done
    # radosgw reads the placement at start: restart it so the new storage classes are accepted.
    rgw_pid=$(cat "$D/run/client.rgw.a.pid")
    kill "$rgw_pid"
    while kill -0 "$rgw_pid" 2>/dev/null; do sleep 0.2; done
    radosgw -n client.rgw.a --rgw-data="$D/rgw" 9>&-
    wait_answering
    log "radosgw up on $URL (keys TESTAK / TESTSECRET, data in $D)"
}

cmd_stop() {
    kill_daemons
    log "stopped"
}

cmd_status() {
    if answering; then
        echo "radosgw answering on $URL"
    else
        echo "radosgw not answering on $URL"
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
