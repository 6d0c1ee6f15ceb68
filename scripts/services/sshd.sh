#!/usr/bin/env bash
# A throwaway OpenSSH server for the SFTP tests: 127.0.0.1:2222, its own host key and sshd_config, the built-in
# SFTP server (internal-sftp), and a test user 'stratatest' (password 'stratatest-password') that logs in with the
# key pair kept beside the config. Runs as root on Debian 12. Everything lives in
#   ${STRATA_SERVICES_DIR:-<repo>/.services}/sshd
# with these files for clients (the tests read them):
#   client_ed25519      the test user's private key (no passphrase)
#   known_hosts         the server's host key as "[127.0.0.1]:2222 ssh-ed25519 ..."
#   sshd_config         the server's config (a test may start a second sshd with it on another port)
# The user's home is /home/stratatest; repositories go under it. The key is added to the user's
# ~/.ssh/authorized_keys, so a server started from another checkout accepts this checkout's key too.
# Usage: sshd.sh install | start | stop | status
# Costs: install downloads about 1 MB; start takes under a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D=${STRATA_SERVICES_DIR:-$ROOT/.services}/sshd
PORT=2222
USER_NAME=stratatest
USER_PASSWORD=stratatest-password
PACKAGES=(openssh-server openssh-client)
COMMANDS=(/usr/sbin/sshd ssh-keygen ssh-keyscan)

log() { echo "sshd.sh: $*" >&2; }

installed() {
    local c
    for c in "${COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || return 1
    done
}

# The SSH banner is the sign of life: a port that accepts but never says "SSH-" is not our server.
answering() {
    local banner
    banner=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -c 4 <&3" 2>/dev/null) || return 1
    [ "$banner" = "SSH-" ]
}

cmd_install() {
    if installed; then
        log "openssh-server is already installed"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "installing needs root (apt-get install ${PACKAGES[*]})"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet: update once when the first try cannot find the packages.
    # policy-rc.d keeps the package from starting the system's own sshd on port 22.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    local rc=0
    if ! apt-get install -y -q "${PACKAGES[@]}"; then
        log "apt-get install failed; running apt-get update and trying again"
        apt-get update -q && apt-get install -y -q "${PACKAGES[@]}" || rc=$?
    fi
    [ "$created_policy" -eq 1 ] && rm -f "$policy"
    [ "$rc" -eq 0 ] || return "$rc"
    installed || { log "packages installed but some commands are still missing"; return 1; }
}

# The test user, its password and its authorized key (idempotent).
ensure_user() {
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd --create-home --home-dir "/home/$USER_NAME" --shell /bin/sh "$USER_NAME"
    fi
    echo "$USER_NAME:$USER_PASSWORD" | chpasswd
    local home
    home=$(getent passwd "$USER_NAME" | cut -d: -f6)
    install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$home/.ssh"
    touch "$home/.ssh/authorized_keys"
    if ! grep -qF "$(cut -d' ' -f2 "$D/client_ed25519.pub")" "$home/.ssh/authorized_keys"; then
        cat "$D/client_ed25519.pub" >> "$home/.ssh/authorized_keys"
    fi
    chown "$USER_NAME:$USER_NAME" "$home/.ssh/authorized_keys"
    chmod 600 "$home/.ssh/authorized_keys"
}

ensure_files() {
    mkdir -p "$D"
    [ -f "$D/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C strata-test-host -f "$D/ssh_host_ed25519_key"
    [ -f "$D/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C strata-test-client -f "$D/client_ed25519"
    cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/ssh_host_ed25519_key
PidFile $D/sshd.pid
Subsystem sftp internal-sftp
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $USER_NAME
# The state folder may sit in a checkout whose parents are group-writable.
StrictModes no
MaxStartups 50:30:100
MaxSessions 50
LogLevel INFO
CONF
}

write_known_hosts() {
    local i
    for i in $(seq 1 20); do
        if ssh-keyscan -T 3 -t ed25519 -p "$PORT" 127.0.0.1 > "$D/known_hosts.tmp" 2>/dev/null && [ -s "$D/known_hosts.tmp" ]; then
            mv "$D/known_hosts.tmp" "$D/known_hosts"
            return 0
        fi
        sleep 0.25
    done
    log "ssh-keyscan found no host key on 127.0.0.1:$PORT"
    return 1
}

cmd_start() {
    installed || cmd_install
    ensure_files
    ensure_user
    if answering; then
        write_known_hosts
        log "already answering on 127.0.0.1:$PORT"
        return 0
    fi
    mkdir -p /run/sshd
    chmod 755 /run/sshd
    /usr/sbin/sshd -t -f "$D/sshd_config"
    /usr/sbin/sshd -f "$D/sshd_config" -E "$D/sshd.log"
    local i
    for i in $(seq 1 40); do
        answering && break
        sleep 0.25
    done
    answering || { log "sshd did not answer on 127.0.0.1:$PORT; see $D/sshd.log"; tail -n 20 "$D/sshd.log" >&2 || true; return 1; }
    write_known_hosts
    log "sshd up on 127.0.0.1:$PORT (user $USER_NAME, key $D/client_ed25519, known_hosts $D/known_hosts)"
}

cmd_stop() {
    local p
    if [ -f "$D/sshd.pid" ]; then
        p=$(cat "$D/sshd.pid")
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            # Only the listener: sessions still open end when their client goes.
            kill "$p"
            for _ in $(seq 1 50); do
                kill -0 "$p" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$D/sshd.pid"
    fi
    log "stopped"
}

# Up for this checkout: the server answers and this state folder holds the key and known_hosts the tests read
# (a server started from another checkout needs a start here first, which adds this checkout's key to it).
cmd_status() {
    if answering && [ -f "$D/client_ed25519" ] && [ -s "$D/known_hosts" ]; then
        echo "sshd answering on 127.0.0.1:$PORT"
    elif answering; then
        echo "sshd answering on 127.0.0.1:$PORT, but $D has no client key or known_hosts yet: run $0 start"
        return 1
    else
        echo "sshd not answering on 127.0.0.1:$PORT"
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
