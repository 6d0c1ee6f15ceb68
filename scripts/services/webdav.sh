#!/usr/bin/env bash
# A throwaway WebDAV server (apache2 with mod_dav_fs and basic auth) on http://127.0.0.1:8088/ for the WebDAV store's
# conformance and end-to-end tests: user strata, password strata-webdav-test. Apache runs with its own config file (own
# ServerRoot modules, PidFile, ErrorLog, DavLockDB), never the system's /etc/apache2 set-up. Its config and log live in
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/webdav
# and it serves dav/ there (owned by www-data; htpasswd and the lock database beside it), or /var/tmp/strata-webdav/dav
# when www-data cannot reach that folder (a checkout under /root). Every start serves an empty folder.
# Usage: webdav.sh install | start | stop | status
# Costs: install downloads about 2 MB (apache2, apache2-utils for htpasswd); start takes ~0.2 s.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/webdav
PORT=8088
URL=http://127.0.0.1:$PORT/
USER_NAME=strata
USER_PASSWORD=strata-webdav-test
PACKAGES=(apache2 apache2-utils curl)
MODULES=/usr/lib/apache2/modules

log() { echo "webdav.sh: $*" >&2; }

installed() {
    command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || return 1
    command -v htpasswd >/dev/null 2>&1 || return 1
    command -v curl >/dev/null 2>&1 || return 1
    [ -f "$MODULES/mod_dav_fs.so" ] && [ -f "$MODULES/mod_auth_basic.so" ]
}

# Any HTTP answer counts (401 without credentials is the expected one).
answering() { curl -s -m 2 -o /dev/null "$URL"; }

cmd_install() {
    if installed; then
        log "apache2 is already installed"
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
    installed || { log "packages installed but apache2, htpasswd or mod_dav_fs is still missing"; return 1; }
    # The package starts (and enables) the distribution's own apache on port 80 and its cache cleaner. This script
    # installed it only for its binary and modules, so it stops those services again; ours runs from its own config.
    local unit
    for unit in apache2 apache-htcacheclean; do
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now "$unit" >/dev/null 2>&1 || true
        elif [ -x "/etc/init.d/$unit" ]; then
            "/etc/init.d/$unit" stop >/dev/null 2>&1 || true
        fi
    done
}

write_config() {
    cat > "$D/apache.conf" <<CONF
# Written by scripts/services/webdav.sh; started with apache2 -f $D/apache.conf -k start
ServerRoot /usr/lib/apache2
Listen 127.0.0.1:$PORT
PidFile $D/run/httpd.pid
ErrorLog $D/log/error.log
LogLevel warn
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authn_core_module modules/mod_authn_core.so
LoadModule authn_file_module modules/mod_authn_file.so
LoadModule authz_user_module modules/mod_authz_user.so
LoadModule auth_basic_module modules/mod_auth_basic.so
LoadModule dav_module modules/mod_dav.so
LoadModule dav_fs_module modules/mod_dav_fs.so
User www-data
Group www-data
ServerName localhost
DocumentRoot $SERVED/dav
DavLockDB $SERVED/lock/DavLock
# The default is 1 GiB; packs are far smaller, but a test server should not be the limit.
LimitRequestBody 0
<Directory $SERVED/dav>
  Dav On
  AuthType Basic
  AuthName "strata test"
  AuthUserFile $SERVED/htpasswd
  Require valid-user
</Directory>
CONF
}

server_pid() {
    local p
    [ -f "$D/run/httpd.pid" ] || return 1
    p=$(cat "$D/run/httpd.pid")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

cmd_start() {
    if answering; then
        log "already answering on $URL"
        return 0
    fi
    installed || cmd_install
    if [ "$(id -u)" -ne 0 ]; then
        log "starting needs root (apache switches to www-data)"
        return 1
    fi
    # One start at a time on this machine (the port is the machine's, whichever checkout runs this).
    exec 9>/tmp/strata-webdav.lock
    flock -w 30 9 || { log "another start holds /tmp/strata-webdav.lock"; return 1; }
    if answering; then
        log "already answering on $URL"
        return 0
    fi
    if p=$(server_pid); then
        kill "$p" 2>/dev/null || true
    fi
    mkdir -p "$D/run" "$D/log"
    rm -f "$D/run/httpd.pid"
    # www-data must be able to reach the served folder through every folder above it.
    SERVED=$D
    if ! runuser -u www-data -- test -x "$D" 2>/dev/null; then
        SERVED=/var/tmp/strata-webdav
    fi
    # Every start serves an empty folder: tests leave their repositories behind.
    rm -rf "$SERVED/dav" "$SERVED/lock"
    mkdir -p "$SERVED/dav" "$SERVED/lock"
    chown www-data:www-data "$SERVED/dav" "$SERVED/lock"
    htpasswd -cbB "$SERVED/htpasswd" "$USER_NAME" "$USER_PASSWORD" 2>/dev/null
    chmod 644 "$SERVED/htpasswd"
    write_config
    apache2 -f "$D/apache.conf" -k start 9>&-
    local i
    for i in $(seq 1 100); do
        if answering; then
            log "apache WebDAV up on $URL (user $USER_NAME, password $USER_PASSWORD, files in $SERVED/dav)"
            return 0
        fi
        sleep 0.1
    done
    log "apache did not answer on $URL within 10 s; see $D/log/error.log"
    tail -n 20 "$D/log/error.log" >&2 2>/dev/null || true
    return 1
}

cmd_stop() {
    local p
    if p=$(server_pid); then
        kill "$p" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
    fi
    log "stopped"
}

cmd_status() {
    if answering; then
        echo "webdav answering on $URL"
    else
        echo "webdav not answering on $URL"
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
