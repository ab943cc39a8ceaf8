#!/bin/bash
# `make run`: a local PostgreSQL under ./var, the whole suite under the supervisor, and a
# development API key. Ctrl-C stops the suite and the database; the data stays in ./var.
# Email and SMS go to local sinks (tools/sinks) under ./var/sinks unless the environment
# names a real SMTP server (CRM_NOTIFY_SMTP_URL) or SMS provider (CRM_NOTIFY_SMS_BASE_URL).
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
var=${CRM_VAR_DIR:-$top/var}
bin=$top/$BUILD/bin
mkdir -p "$var"

#  Durable: fsync on (PG_FSYNC=off make run trades that for speed, as the tests do).
PG_FSYNC=${PG_FSYNC:-on} "$top/scripts/pg.sh" start "$var/pg"
export CRM_DATABASE_DSN=${CRM_DATABASE_DSN:-$("$top/scripts/pg.sh" dsn "$var/pg")}
export CRM_SUPERVISOR_BIN_DIR=$bin
[ -z "${CRM_CONFIG:-}" ] && [ -f "$top/config/crm.yaml" ] && export CRM_CONFIG=$top/config/crm.yaml
# Daemons reach the gateway's broker through a Unix socket under ./var (broker.local_endpoint),
# unless the environment says otherwise or the path is too long for a socket address.
sock=$var/broker.sock
if [ -z "${CRM_BROKER_LOCAL_ENDPOINT+set}" ] && [ ${#sock} -lt 100 ]; then
    export CRM_BROKER_LOCAL_ENDPOINT=ipc://$sock
fi

# The deployment's secret keying the API keys' hashes (gateway.key_secret): made once, kept
# in ./var (0600), never in the repository; CRM_GATEWAY_KEY_SECRET overrides it.
secretfile=$var/key-secret
if [ -z "${CRM_GATEWAY_KEY_SECRET:-}" ]; then
    if [ ! -s "$secretfile" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secretfile")
    fi
    CRM_GATEWAY_KEY_SECRET=$(cat "$secretfile")
    export CRM_GATEWAY_KEY_SECRET
fi

# CurveZMQ key pairs (docs/OPERATIONS.md, "Keys"), made once under ./var: the gateway's,
# one per daemon (worker:NAME), and crmctl's (client, every tenant's events). Secrets are
# mode 0600 in ./var/certs; the public keys the gateway admits are in ./var/keys.
export CRM_SECURITY_CERTS_DIR=${CRM_SECURITY_CERTS_DIR:-$var/certs}
export CRM_SECURITY_KEYS_DIR=${CRM_SECURITY_KEYS_DIR:-$var/keys}
if [ "${CRM_SECURITY_INSECURE:-false}" != true ]; then
    # The daemons supervisor.services runs (config/crm.yaml's list unless overridden).
    services=${CRM_SUPERVISOR_SERVICES:-$(sed -n 's/^  services: "\([^"]*\)".*/\1/p' \
        "${CRM_CONFIG:-$top/config/crm.yaml}" 2>/dev/null)}
    [ -n "$services" ] || services="gateway contacts leads scoring dedupe notify reporting"
    make_cert() {
        [ -s "$CRM_SECURITY_CERTS_DIR/$1.key_secret" ] && [ -s "$CRM_SECURITY_KEYS_DIR/$1.key" ] \
            || "$bin/crmctl" certs create "$1" --role "$2" --replace 2>/dev/null \
            || { echo "run: could not make the key pair $1" >&2; exit 1; }
    }
    make_cert gateway gateway
    for s in $services; do
        [ "$s" = gateway ] || make_cert "$s" "worker:$s"
    done
    make_cert crmctl "client,subscriber:*"
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
    for pid in ${smtp_pid:-} ${sms_pid:-}; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    "$top/scripts/pg.sh" stop "$var/pg" || true
    echo "stopped; the data stays in $var" >&2
}
trap 'stop_all; exit 0' INT TERM

# --- The notification sinks -----------------------------------------------------------
# An SMTP server that requires STARTTLS (a self-signed certificate for 127.0.0.1) and
# AUTH, and a Twilio-compatible Messages API stub, each on a free port. Their
# certificate, password, account and token are made once and kept under ./var/sinks.
sinks=$var/sinks
mkdir -p "$sinks"

# A secret made once: FILE holds PREFIX + BYTES random bytes in hex, mode 0600.
secret_once() {
    local file=$1 bytes=$2 prefix=${3:-}
    if [ ! -s "$file" ]; then
        (umask 077 && printf '%s%s\n' "$prefix" \
            "$(od -An -tx1 -N"$bytes" /dev/urandom | tr -d ' \n')" > "$file.new")
        mv "$file.new" "$file"
    fi
    chmod 600 "$file"
    cat "$file"
}

# Wait until the sink PID has written DIR/port (it listens then) and print the port.
sink_port() {
    local dir=$1 pid=$2 name=$3 log=$4
    for _ in $(seq 150); do
        [ -s "$dir/port" ] && { cat "$dir/port"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "run: could not start the $name" >&2
    echo "detail: $(tail -n 5 "$log" 2>/dev/null)" >&2
    echo "hint: see $log; or point CRM_NOTIFY_SMTP_URL / CRM_NOTIFY_SMS_BASE_URL elsewhere" >&2
    return 1
}

if [ -z "${CRM_NOTIFY_SMTP_URL:-}" ]; then
    tls=$sinks/tls
    mkdir -p "$tls" "$sinks/mail"
    if ! openssl x509 -checkend 86400 -noout -in "$tls/cert.pem" >/dev/null 2>&1 \
        || [ ! -s "$tls/key.pem" ]; then
        (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 3650 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>"$tls/openssl.log") || {
            echo "run: could not make the SMTP sink's certificate; see $tls/openssl.log" >&2
            stop_all; exit 1; }
        chmod 644 "$tls/cert.pem"
    fi
    smtp_user=crm-dev
    smtp_password=$(secret_once "$sinks/smtp-password" 16)
    rm -f "$sinks/mail/port"
    SMTP_SINK_PASSWORD=$smtp_password "$top/tools/sinks/smtp_sink.py" --dir "$sinks/mail" \
        --port 0 --user "$smtp_user" --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" \
        >>"$sinks/smtp-sink.log" 2>&1 &
    smtp_pid=$!
fi
if [ -z "${CRM_NOTIFY_SMS_BASE_URL:-}" ]; then
    mkdir -p "$sinks/sms"
    sms_sid=$(secret_once "$sinks/sms-account-sid" 16 AC)
    sms_token=$(secret_once "$sinks/sms-auth-token" 16)
    rm -f "$sinks/sms/port"
    SMS_STUB_AUTH_TOKEN=$sms_token "$top/tools/sinks/sms_stub.py" --dir "$sinks/sms" --port 0 \
        --account-sid "$sms_sid" >>"$sinks/sms-stub.log" 2>&1 &
    sms_pid=$!
fi
if [ -n "${smtp_pid:-}" ]; then
    smtp_port=$(sink_port "$sinks/mail" "$smtp_pid" "SMTP sink" "$sinks/smtp-sink.log") \
        || { stop_all; exit 1; }
    export CRM_NOTIFY_SMTP_URL=smtp://127.0.0.1:$smtp_port
    export CRM_NOTIFY_SMTP_USER=$smtp_user
    export CRM_NOTIFY_SMTP_PASSWORD=$smtp_password
    export CRM_NOTIFY_SMTP_CA_FILE=$tls/cert.pem
    export CRM_NOTIFY_MAIL_FROM=${CRM_NOTIFY_MAIL_FROM:-"Dealer CRM <crm@localhost>"}
    mail_to="$CRM_NOTIFY_SMTP_URL (STARTTLS, user $smtp_user)
               stored in $sinks/mail/*.eml, listed in $sinks/mail/index.jsonl"
else
    mail_to="$CRM_NOTIFY_SMTP_URL (from the environment)"
fi
if [ -n "${sms_pid:-}" ]; then
    sms_port=$(sink_port "$sinks/sms" "$sms_pid" "SMS stub" "$sinks/sms-stub.log") \
        || { stop_all; exit 1; }
    export CRM_NOTIFY_SMS_BASE_URL=http://127.0.0.1:$sms_port
    export CRM_NOTIFY_SMS_ACCOUNT_SID=$sms_sid
    export CRM_NOTIFY_SMS_AUTH_TOKEN=$sms_token
    export CRM_NOTIFY_SMS_FROM=${CRM_NOTIFY_SMS_FROM:-+15005550006}
    sms_to="$CRM_NOTIFY_SMS_BASE_URL (Messages API stub, account $sms_sid)
               stored in $sinks/sms/messages.jsonl, callbacks in $sinks/sms/callbacks.jsonl"
else
    sms_to="$CRM_NOTIFY_SMS_BASE_URL (from the environment)"
fi
# Status callbacks and inbound SMS come back to the gateway.
public_host=$host
case $public_host in 0.0.0.0 | "::" | "") public_host=127.0.0.1 ;; esac
export CRM_NOTIFY_PUBLIC_URL=${CRM_NOTIFY_PUBLIC_URL:-http://$public_host:$port}
export CRM_NOTIFY_DATA_DIR=${CRM_NOTIFY_DATA_DIR:-$top/services/notify/data}
export CRM_DEDUPE_DATA_DIR=${CRM_DEDUPE_DATA_DIR:-$top/services/dedupe/data}
export CRM_SCORING_MODEL_FILE=${CRM_SCORING_MODEL_FILE:-$top/config/scoring.yaml}

cat <<MSG

  Dealer CRM is starting.
    gateway:   http://$host:$port   (health: /healthz, readiness: /readyz, metrics: /metrics)
    API key:   $key   (tenant "dev", role admin; also in $keyfile)
    ZeroMQ:    CurveZMQ, key pairs in $CRM_SECURITY_CERTS_DIR (crmctl certs list shows them)
    database:  $CRM_DATABASE_DSN
    email:     $mail_to
    SMS:       $sms_to

  Try:
    curl -H "Authorization: Bearer $key" -d '{"kind":"person","firstName":"Ann","lastName":"Lee","emails":[{"address":"ann@example.com"}]}' http://$host:$port/v1/contacts

  Ctrl-C stops everything. Logs (JSON lines) follow.

MSG
"$bin/crm-supervisor" &
sup=$!
wait "$sup" || true
sup=
stop_all
