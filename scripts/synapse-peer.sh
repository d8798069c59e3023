#!/usr/bin/env bash
# A real Synapse on this machine, for interoperability tests and the comparison
# benchmarks (docs/interop.md). Synapse comes from Debian sid, installed with
# debootstrap into a chroot outside the repository; each peer runs in its own
# private mount namespace (unshare -m), so the mounts it needs (its data folder,
# /proc, its own /etc/hosts, a PostgreSQL socket folder) vanish with it.
#
#   install [DIR]
#       a Debian sid chroot with matrix-synapse in DIR (default $WEFT_SYNAPSE_ROOT
#       or /var/cache/weft/synapse-sid); does nothing if it already works
#   cert DIR NAME...
#       a test CA in DIR (ca.pem, ca.key; kept if present) and a leaf certificate
#       DIR/<host>.pem + DIR/<host>.key for each server NAME (SAN: its host part,
#       localhost, 127.0.0.1)
#   start NAME PORT DATADIR [options]
#       Synapse for server_name NAME, data in DATADIR, listening on 127.0.0.1:
#         PORT     TLS, client + federation APIs (what other homeservers reach)
#         PORT+1   plain HTTP, client and Admin APIs, /health (tests, benchmarks)
#       Prints name=, client_url=, federation_url=, pid=, shared_secret=, ca= lines.
#       options:
#         --ca CA_PEM                 the CA that federation peers' certificates chain to
#         --cert CERT --key KEY       this server's TLS certificate (default: one issued by
#                                     the CA beside --ca, its ca.key, or by a new CA in
#                                     DATADIR/tls/ca)
#         --weft-host NAME=IP[:PORT]  a peer server NAME (with an explicit port, e.g.
#                                     weft.test:18448) reachable at IP: an /etc/hosts line
#                                     for Synapse (repeatable)
#         --client-port P             the plain HTTP port instead of PORT+1
#         --pg URL                    PostgreSQL (postgres://user@host:port/db[?host=/socket/dir])
#                                     instead of SQLite; the database must exist with
#                                     LC_COLLATE and LC_CTYPE 'C' (`createdb` below)
#         --log-level LEVEL           Synapse's root log level (default INFO)
#         --root DIR                  the chroot (default as for install)
#   stop NAME DATADIR
#   register NAME DATADIR USER PASSWORD [--admin]
#       a user through the shared-secret registration API; prints user_id= and access_token=
#   createdb PG_URL DBNAME
#       a database Synapse accepts (UTF8, C collation) on a Weft test cluster
#
# Runs as root (debootstrap, chroot, mount namespaces). The only network access
# is Debian's archive, at the mirror the host's apt uses.
set -euo pipefail

ROOT_DEFAULT="${WEFT_SYNAPSE_ROOT:-/var/cache/weft/synapse-sid}"
# Where a peer's DATADIR appears inside the chroot (every peer's, each in its own namespace).
PEERS_IN_CHROOT=/peers
# Synapse's user inside the chroot (the Debian package creates it).
SYNAPSE_USER=matrix-synapse

log() { echo "synapse-peer: $*" >&2; }
die() {
  log "$*"
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, unshare)"; }

# ---------------------------------------------------------------- install

# The Debian archive the host's apt uses (deb822 .sources or one-line lists).
debian_mirror() {
  local uri
  uri="$(
    {
      grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{ for (i = 2; i <= NF; i++) print $i }'
      grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed -E 's/^deb (\[[^]]*\] )?//' | awk '{ print $1 }'
    } | grep -E '/debian/?$' | grep -v security | head -n 1
  )"
  echo "${uri:-http://deb.debian.org/debian}"
}

# Both packages fully installed (dpkg's record: quicker than importing Synapse).
synapse_works() {
  local root="$1"
  [ -x "$root/usr/bin/dpkg-query" ] &&
    [ "$(chroot "$root" dpkg-query -W -f='${Status};' matrix-synapse python3-psycopg2 2>/dev/null)" = \
      "install ok installed;install ok installed;" ]
}

synapse_version() {
  chroot "$1" dpkg-query -W -f='${Version}' matrix-synapse
}

# Runs a command in the chroot with /proc mounted, in a private mount namespace:
# the mount goes away with the command, however it ends.
in_chroot() {
  local root="$1"
  shift
  unshare --mount --propagation private -- \
    sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" "$@"
}

cmd_install() {
  need_root
  local root="${1:-$ROOT_DEFAULT}"
  if synapse_works "$root"; then
    log "Synapse $(synapse_version "$root") already installed in $root"
    return
  fi
  local started mirror
  started="$(now)"
  mirror="$(debian_mirror)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  fi
  # A base system that never finished (debootstrap leaves its work folder) starts over.
  if [ -d "$root/debootstrap" ] || [ ! -x "$root/usr/bin/apt-get" ]; then
    rm -rf "$root"
    mkdir -p "$root"
    log "debootstrap sid from $mirror into $root"
    debootstrap --variant=minbase sid "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $root.debootstrap.log"
    log "base system in $(elapsed "$started") s"
  fi
  local step
  step="$(now)"
  # No service may start inside the chroot while packages install.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  # The package's debconf questions, answered (it writes a config we do not use).
  in_chroot "$root" debconf-set-selections <<'EOF'
matrix-synapse matrix-synapse/server-name string localhost
matrix-synapse matrix-synapse/report-stats boolean false
EOF
  # The archive reachable from a CI machine may be a frozen snapshot whose Release
  # file has expired; its signatures are still checked.
  echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99weft-snapshot"
  in_chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # python3-psycopg2 for --pg (a recommendation only); ca-certificates for Python's TLS.
  in_chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends matrix-synapse python3-psycopg2 ca-certificates >"$root.apt.log" 2>&1 ||
    die "apt-get install matrix-synapse failed; see $root.apt.log"
  in_chroot "$root" apt-get clean
  synapse_works "$root" || die "matrix-synapse installed but 'import synapse' fails"
  log "matrix-synapse $(synapse_version "$root") installed in $(elapsed "$step") s" \
    "(total $(elapsed "$started") s)"
}

# ---------------------------------------------------------------- certificates

# The host part of a server name (`weft.test:18448` → `weft.test`).
host_of() { echo "${1%%:*}"; }
port_of() { case "$1" in *:*) echo "${1##*:}" ;; *) echo "" ;; esac; }

# A CA in DIR (ca.pem, ca.key), unless one is there already.
ensure_ca() {
  local dir="$1"
  [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] && return
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=Weft test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

# A leaf certificate OUT/<host>.pem + .key for server NAME, signed by CA_DIR's CA.
issue_leaf() {
  local ca_dir="$1" out="$2" name="$3" host ext
  host="$(host_of "$name")"
  mkdir -p "$out"
  ext="$(mktemp)"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" >"$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$host" \
    -keyout "$out/$host.key" 2>/dev/null |
    openssl x509 -req -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" -CAcreateserial -days 30 \
      -extfile "$ext" -out "$out/$host.pem" 2>/dev/null
  rm -f "$ext"
}

cmd_cert() {
  [ $# -ge 2 ] || usage
  local dir="$1" name
  shift
  ensure_ca "$dir"
  for name in "$@"; do
    issue_leaf "$dir" "$dir" "$name"
    echo "$dir/$(host_of "$name").pem"
  done
}

# ---------------------------------------------------------------- start

# Synapse's signing key file: "ed25519 <key id> <unpadded base64 seed>".
write_signing_key() {
  local file="$1" seed id
  seed="$(openssl genpkey -algorithm ed25519 -outform DER | tail -c 32 | base64 | tr -d '=\n')"
  id="a_$(openssl rand -hex 2)"
  echo "ed25519 $id $seed" >"$file"
}

# A PostgreSQL URL as `user password host port dbname` (host may be a socket folder).
parse_pg_url() {
  chroot "$1" python3 - "$2" <<'EOF'
import sys, urllib.parse as up
u = up.urlsplit(sys.argv[1])
q = up.parse_qs(u.query)
host = q.get("host", [u.hostname or "127.0.0.1"])[0]
print(up.unquote(u.username or "postgres"), up.unquote(u.password or "") or "-", host,
      u.port or 5432, (u.path or "/postgres").lstrip("/") or "postgres")
EOF
}

# Rate limits out of the way: the tests and benchmarks are the only clients.
rate_limits_yaml() {
  local unlimited="{per_second: 100000, burst_count: 100000}" key
  for key in rc_message rc_registration rc_registration_token_validity rc_admin_redaction \
    rc_joins_per_room rc_key_requests rc_3pid_validation rc_third_party_invite rc_media_create \
    rc_delayed_event_mgmt rc_room_creation rc_reports rc_user_directory; do
    echo "$key: $unlimited"
  done
  cat <<EOF
rc_login: {address: $unlimited, account: $unlimited, failed_attempts: $unlimited}
rc_joins: {local: $unlimited, remote: $unlimited}
rc_invites: {per_room: $unlimited, per_user: $unlimited, per_issuer: $unlimited}
rc_presence: {per_user: $unlimited}
rc_federation: {window_size: 1000, sleep_limit: 100000, sleep_delay: 0, reject_limit: 100000, concurrent: 1000}
EOF
}

write_homeserver_yaml() {
  local datadir="$1" name="$2" port="$3" client_port="$4" database_yaml="$5"
  cat >"$datadir/homeserver.yaml" <<EOF
# Written by scripts/synapse-peer.sh for a Weft interoperability peer.
server_name: "$name"
pid_file: $PEERS_IN_CHROOT/homeserver.pid
public_baseurl: "http://127.0.0.1:$client_port/"
listeners:
  # What other homeservers reach (federation and key APIs), and TLS clients.
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: true
    x_forwarded: false
    resources:
      - names: [client, federation]
        compress: false
  # Plain HTTP for tests and benchmarks (as Weft's own tests speak to it).
  - port: $client_port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
tls_certificate_path: $PEERS_IN_CHROOT/tls/server.pem
tls_private_key_path: $PEERS_IN_CHROOT/tls/server.key
federation_verify_certificates: true
federation_custom_ca_list: [$PEERS_IN_CHROOT/tls/ca.pem]
# Peers are on loopback, which Synapse refuses by default.
ip_range_whitelist: ["127.0.0.0/8", "::1/128"]
trusted_key_servers: []
suppress_key_server_warning: true
$database_yaml
log_config: $PEERS_IN_CHROOT/log.yaml
media_store_path: $PEERS_IN_CHROOT/media
signing_key_path: $PEERS_IN_CHROOT/signing.key
registration_shared_secret: "$(cat "$datadir/shared_secret")"
macaroon_secret_key: "$(cat "$datadir/macaroon_secret")"
form_secret: "$(cat "$datadir/macaroon_secret")"
enable_registration: true
enable_registration_without_verification: true
report_stats: false
enable_metrics: false
$(rate_limits_yaml)
EOF
}

write_log_yaml() {
  local datadir="$1" level="$2"
  cat >"$datadir/log.yaml" <<EOF
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $PEERS_IN_CHROOT/homeserver.log
    encoding: utf8
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: $level
  handlers: [file]
disable_existing_loggers: false
EOF
}

peer_pid() {
  local datadir="$1" pid
  for file in "$datadir/homeserver.pid" "$datadir/peer.pid"; do
    pid="$(cat "$file" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "$pid"
      return
    fi
  done
}

cmd_start() {
  need_root
  [ $# -ge 3 ] || usage
  local name="$1" port="$2" datadir="$3"
  shift 3
  local root="$ROOT_DEFAULT" ca="" cert="" key="" client_port pg="" level=INFO
  local -a peers=()
  client_port=$((port + 1))
  while [ $# -gt 0 ]; do
    case "$1" in
      --ca) ca="$2" ;;
      --cert) cert="$2" ;;
      --key) key="$2" ;;
      --weft-host) peers+=("$2") ;;
      --client-port) client_port="$2" ;;
      --pg) pg="$2" ;;
      --log-level) level="$2" ;;
      --root) root="$2" ;;
      *) die "unknown option $1" ;;
    esac
    shift 2
  done
  synapse_works "$root" || die "no Synapse in $root: run '$0 install' first"
  [ -n "$(port_of "$name")" ] && [ "$(port_of "$name")" != "$port" ] &&
    die "server name $name names port $(port_of "$name"), but PORT is $port"
  mkdir -p "$datadir"
  datadir="$(realpath "$datadir")"
  [ -z "$(peer_pid "$datadir")" ] || die "a peer already runs in $datadir"
  local started
  started="$(now)"

  # Secrets and keys survive restarts on the same DATADIR.
  [ -f "$datadir/shared_secret" ] || openssl rand -hex 24 >"$datadir/shared_secret"
  [ -f "$datadir/macaroon_secret" ] || openssl rand -hex 24 >"$datadir/macaroon_secret"
  [ -f "$datadir/signing.key" ] || write_signing_key "$datadir/signing.key"
  mkdir -p "$datadir/tls" "$datadir/media"
  if [ -n "$cert" ]; then
    [ -n "$key" ] || die "--cert needs --key"
    cp "$cert" "$datadir/tls/server.pem"
    cp "$key" "$datadir/tls/server.key"
    [ -n "$ca" ] || die "--cert needs --ca (the CA peers' certificates chain to)"
  else
    # Our own leaf, from the given CA's folder (its ca.key beside it) or a new CA.
    local ca_dir="$datadir/tls/ca"
    if [ -n "$ca" ]; then
      ca_dir="$(dirname "$ca")"
      [ -f "$ca_dir/ca.key" ] || die "--ca without --cert needs $ca_dir/ca.key to issue a certificate"
    fi
    ensure_ca "$ca_dir"
    issue_leaf "$ca_dir" "$datadir/tls" "$name"
    mv "$datadir/tls/$(host_of "$name").pem" "$datadir/tls/server.pem"
    mv "$datadir/tls/$(host_of "$name").key" "$datadir/tls/server.key"
    ca="${ca:-$ca_dir/ca.pem}"
  fi
  [ "$(realpath "$ca")" = "$datadir/tls/ca.pem" ] || cp "$ca" "$datadir/tls/ca.pem"

  # Synapse's /etc/hosts: itself and each peer server name at the address given.
  {
    echo "127.0.0.1 localhost $(host_of "$name")"
    echo "::1 localhost ip6-localhost"
    local peer peer_name target
    for peer in "${peers[@]}"; do
      peer_name="${peer%%=*}"
      target="${peer#*=}"
      [ -n "$(port_of "$peer_name")" ] ||
        die "--weft-host $peer: the server name needs an explicit port (no .well-known or SRV here)"
      [ -z "$(port_of "$target")" ] || [ "$(port_of "$target")" = "$(port_of "$peer_name")" ] ||
        die "--weft-host $peer: the port must be the one in the server name"
      echo "$(host_of "$target") $(host_of "$peer_name")"
    done
  } >"$datadir/hosts"

  local database_yaml pg_socket_dir=""
  if [ -n "$pg" ]; then
    local user password host pg_port dbname
    read -r user password host pg_port dbname <<<"$(parse_pg_url "$root" "$pg")"
    [ "$password" = "-" ] && password=""
    if [ "${host#/}" != "$host" ]; then
      pg_socket_dir="$host"
      host=/run/weft-pg
    fi
    database_yaml="database:
  name: psycopg2
  args: {user: \"$user\", password: \"$password\", dbname: \"$dbname\", host: \"$host\", port: $pg_port, cp_min: 5, cp_max: 10}"
  else
    database_yaml="database:
  name: sqlite3
  args: {database: $PEERS_IN_CHROOT/homeserver.db}"
  fi
  write_homeserver_yaml "$datadir" "$name" "$port" "$client_port" "$database_yaml"
  write_log_yaml "$datadir" "$level"
  local uid gid
  uid="$(awk -F: -v u="$SYNAPSE_USER" '$1 == u { print $3 }' "$root/etc/passwd")"
  gid="$(awk -F: -v u="$SYNAPSE_USER" '$1 == u { print $4 }' "$root/etc/passwd")"
  chown -R "$uid:$gid" "$datadir"
  chmod 700 "$datadir"
  mkdir -p "$root$PEERS_IN_CHROOT" "$root/run/weft-pg"
  rm -f "$datadir/homeserver.pid"
  {
    echo "name=$name"
    echo "client_url=http://127.0.0.1:$client_port"
    echo "federation_url=https://$(host_of "$name"):$port"
  } >"$datadir/peer.env"

  # In its own mount namespace: the data folder at /peer, its hosts file, /proc and
  # PostgreSQL's socket folder are mounted for it alone and vanish when it exits.
  # Every step execs, so the pid recorded is Synapse's.
  setsid unshare --mount --propagation private -- sh -c '
    root="$1" datadir="$2" peer="$3" pg_socket_dir="$4" ids="$5"
    mount --bind "$datadir" "$root$peer"
    mount --bind "$datadir/hosts" "$root/etc/hosts"
    mount -t proc proc "$root/proc"
    if [ -n "$pg_socket_dir" ]; then mount --bind "$pg_socket_dir" "$root/run/weft-pg"; fi
    exec chroot --userspec="$ids" "$root" env -i HOME="$peer" LANG=C.UTF-8 \
      PATH=/usr/bin:/bin python3 -m synapse.app.homeserver -c "$peer/homeserver.yaml"
  ' sh "$root" "$datadir" "$PEERS_IN_CHROOT" "$pg_socket_dir" "$uid:$gid" \
    >>"$datadir/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$datadir/peer.pid"

  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null "http://127.0.0.1:$client_port/health" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$datadir/stdout.log" "$datadir/homeserver.log" >&2 2>/dev/null || true
      die "Synapse exited during start-up (logs in $datadir)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      kill "$pid" 2>/dev/null || true
      die "Synapse did not answer /health within 120 s (logs in $datadir)"
    fi
    sleep 0.1
  done
  log "Synapse for $name ready in $(elapsed "$started") s (pid $pid)"
  cat "$datadir/peer.env"
  echo "pid=$pid"
  echo "shared_secret=$(cat "$datadir/shared_secret")"
  echo "ca=$datadir/tls/ca.pem"
}

# ---------------------------------------------------------------- stop, register

cmd_stop() {
  [ $# -ge 1 ] || usage
  local datadir="${*: -1}" pid
  pid="$(peer_pid "$datadir")"
  if [ -z "$pid" ]; then
    log "no Synapse running in $datadir"
    return
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$datadir/peer.pid" "$datadir/homeserver.pid"
  log "stopped Synapse (pid $pid)"
}

json_field() { sed -nE "s/.*\"$1\" *: *\"([^\"]*)\".*/\1/p"; }

# Synapse's shared-secret registration: GET a nonce, POST the HMAC-SHA1 of
# nonce, user, password and admin flag (NUL-separated) keyed by the secret.
cmd_register() {
  [ $# -ge 4 ] || usage
  # NAME is for symmetry with start/stop: the data folder knows its peer.
  local datadir="$2" user="$3" password="$4" admin=false
  [ "${5:-}" = "--admin" ] && admin=true
  [[ "$user" =~ ^[a-z0-9._=/-]+$ ]] || die "user must be a plain localpart"
  [[ "$password" =~ ^[A-Za-z0-9._~!@#%^*+=-]+$ ]] || die "password: letters, digits and ._~!@#%^*+=- only"
  local client_url secret nonce mac response token
  client_url="$(sed -n 's/^client_url=//p' "$datadir/peer.env")"
  secret="$(cat "$datadir/shared_secret")"
  nonce="$(curl -fsS "$client_url/_synapse/admin/v1/register" | json_field nonce)"
  mac="$(printf '%s\0%s\0%s\0%s' "$nonce" "$user" "$password" "$($admin && echo admin || echo notadmin)" |
    openssl dgst -sha1 -hmac "$secret" | awk '{ print $NF }')"
  response="$(curl -sS -X POST -H 'content-type: application/json' \
    -d "{\"nonce\":\"$nonce\",\"username\":\"$user\",\"password\":\"$password\",\"admin\":$admin,\"mac\":\"$mac\"}" \
    "$client_url/_synapse/admin/v1/register")"
  token="$(json_field access_token <<<"$response")"
  [ -n "$token" ] || die "registration failed: $response"
  echo "user_id=$(json_field user_id <<<"$response")"
  echo "access_token=$token"
}

# A database on a Weft test cluster (scripts/postgres-cluster.sh) that Synapse accepts.
cmd_createdb() {
  [ $# -eq 2 ] || usage
  local url="$1" db="$2" bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name: lower-case letters, digits, _"
  "$bin/psql" "$url" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
  # The cluster's URL names the database `postgres`: the same URL with this one.
  echo "${url/\/postgres\?//$db?}"
}

# ---------------------------------------------------------------- main

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local command="${1:-}"
  [ $# -gt 0 ] && shift
  case "$command" in
    install) cmd_install "$@" ;;
    cert) cmd_cert "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    register) cmd_register "$@" ;;
    createdb) cmd_createdb "$@" ;;
    *) usage ;;
  esac
}

main "$@"
