#!/bin/bash
# `make run`: a local PostgreSQL under ./var, the whole suite under the supervisor, and a
# development API key. Ctrl-C stops the suite and the database; the data stays in ./var.
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
var=${CRM_VAR_DIR:-$top/var}
bin=$top/$BUILD/bin
mkdir -p "$var"

"$top/scripts/pg.sh" start "$var/pg"
export CRM_DATABASE_DSN=${CRM_DATABASE_DSN:-$("$top/scripts/pg.sh" dsn "$var/pg")}
export CRM_SUPERVISOR_BIN_DIR=$bin
[ -z "${CRM_CONFIG:-}" ] && [ -f "$top/config/crm.yaml" ] && export CRM_CONFIG=$top/config/crm.yaml
# Daemons reach the gateway's broker through a Unix socket under ./var (broker.local_endpoint),
# unless the environment says otherwise or the path is too long for a socket address.
sock=$var/broker.sock
if [ -z "${CRM_BROKER_LOCAL_ENDPOINT+set}" ] && [ ${#sock} -lt 100 ]; then
    export CRM_BROKER_LOCAL_ENDPOINT=ipc://$sock
fi

# One development key, created once and reused while the database keeps it.
keyfile=$var/dev-api-key
if [ ! -s "$keyfile" ] || ! "$bin/crmctl" keys check "$(cat "$keyfile")" >/dev/null 2>&1; then
    "$bin/crmctl" keys create --tenant dev --role admin --name "make run" > "$keyfile.new" 2>/dev/null
    mv "$keyfile.new" "$keyfile"
    chmod 600 "$keyfile"
fi
key=$(cat "$keyfile")
port=${CRM_GATEWAY_HTTP_PORT:-8080}
host=${CRM_GATEWAY_HTTP_BIND:-127.0.0.1}

stop_all() {
    trap - INT TERM
    [ -n "${sup:-}" ] && kill -TERM "$sup" 2>/dev/null && wait "$sup" 2>/dev/null || true
    "$top/scripts/pg.sh" stop "$var/pg" || true
    echo "stopped; the data stays in $var" >&2
}
trap 'stop_all; exit 0' INT TERM

cat <<MSG

  Dealer CRM is starting.
    gateway:   http://$host:$port   (health: /healthz, readiness: /readyz, metrics: /metrics)
    API key:   $key   (tenant "dev", role admin; also in $keyfile)
    database:  $CRM_DATABASE_DSN

  Try:
    curl -H "Authorization: Bearer $key" -d '{"kind":"person","firstName":"Ann","lastName":"Lee","emails":[{"address":"ann@example.com"}]}' http://$host:$port/v1/contacts

  Ctrl-C stops everything. Logs (JSON lines) follow.

MSG
"$bin/crm-supervisor" &
sup=$!
wait "$sup" || true
sup=
stop_all
