#!/bin/bash
# A private PostgreSQL cluster in one directory, for `make run`, the tests and the bench.
#
#   scripts/pg.sh start DIR    initdb if DIR holds no cluster, start it, create database crm
#   scripts/pg.sh stop DIR     fast shutdown (nothing to do if it is not running)
#   scripts/pg.sh status DIR   prints the state; exit 0 running, 3 stopped, 4 no cluster
#   scripts/pg.sh dsn DIR      prints the libpq connection string
#
# Layout: DIR/data is the data directory, DIR/postgres.log the server log, and DIR itself
# the unix socket directory (no TCP: listen_addresses is empty). Connect with host=DIR.
# As root, initdb and the server run as the `postgres` user (initdb refuses root), so DIR
# is chowned to postgres and every parent of DIR must be traversable by that user.
# Fsync is off (-F) for speed unless PG_FSYNC=on: the tests keep it off; make run (and the
# bench, which measures durable commits) turn it on.
# Logging keeps personal data out of postgres.log: log_error_verbosity = terse (no DETAIL,
# where a constraint error prints the key's values) and no statement text with errors.
#
# Sourceable: `. scripts/pg.sh` defines pg_start, pg_stop, pg_status and pg_dsn (each takes
# DIR) without running anything; each runs in a subshell, so it never exits the caller.

PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null)}
PG_DATABASE=${PG_DATABASE:-crm}

# Print an error in three parts (primary, detail, hint), PostgreSQL style, to stderr.
s_pg_error() {
    echo "pg.sh: $1" >&2
    [ -n "${2:-}" ] && echo "detail: $2" >&2
    [ -n "${3:-}" ] && echo "hint: $3" >&2
    return 1
}

# Check the tools and DIR; sets PG_DIR to DIR made absolute (it need not exist yet).
s_pg_check_dir() {
    if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/pg_ctl" ]; then
        s_pg_error "could not find the PostgreSQL server binaries" \
            "pg_config --bindir gave \"$PG_BINDIR\"" "run make deps (needs postgresql, libpq-dev)"
        return 1
    fi
    if [ -z "${1:-}" ]; then
        s_pg_error "no cluster directory given" "" "usage: pg.sh start|stop|status|dsn DIR"
        return 1
    fi
    case $1 in
        /*) PG_DIR=$1 ;;
        *) PG_DIR=$(pwd -P)/$1 ;;
    esac
    PG_DIR=${PG_DIR%/}
    case $PG_DIR in
        *[[:space:]\'\"\\]*)
            s_pg_error "cluster directory name is not supported" \
                "\"$PG_DIR\" contains white space, a quote or a backslash" \
                "choose a plain path"
            return 1 ;;
    esac
    # The socket path DIR/.s.PGSQL.5432 must fit in sun_path (107 bytes plus NUL).
    if [ $((${#PG_DIR} + 15)) -gt 107 ]; then
        s_pg_error "cluster directory path is too long for a unix socket" \
            "\"$PG_DIR/.s.PGSQL.5432\" is longer than 107 bytes" "use a shorter path"
        return 1
    fi
}

# The user the cluster runs as when we are root: the owner of an existing data directory
# (a cluster someone made without root), else postgres.
s_pg_owner() {
    local owner
    owner=$(stat -c %U "$PG_DIR/data" 2>/dev/null)
    if [ -n "$owner" ] && [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then
        echo "$owner"
    else
        echo postgres
    fi
}

# Run a PostgreSQL server tool as the cluster's owner when we are root (initdb and pg_ctl
# refuse root), else as ourselves. Runs from / so the owner is never left in a directory
# it cannot read.
s_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$(s_pg_owner)" -- "$@")
    else
        "$@"
    fi
}

# As root, make DIR belong to postgres and check that postgres can reach it through every
# parent directory; only DIR itself is ever chmod-ed, never a parent.
s_pg_prepare_dir() {
    mkdir -p "$PG_DIR" || { s_pg_error "could not create directory \"$PG_DIR\""; return 1; }
    [ "$(id -u)" -eq 0 ] || return 0
    local owner
    owner=$(s_pg_owner)
    if ! id "$owner" >/dev/null 2>&1; then
        s_pg_error "user \"$owner\" does not exist" \
            "as root, the cluster must run as postgres (initdb refuses root)" \
            "install the postgresql package (make deps)"
        return 1
    fi
    chown "$owner": "$PG_DIR" && chmod 0755 "$PG_DIR" || return 1
    local parent=$PG_DIR
    while [ "$parent" != / ] && [ -n "$parent" ]; do
        parent=$(dirname "$parent")
        if ! runuser -u "$owner" -- test -x "$parent"; then
            s_pg_error "user \"$owner\" cannot reach the cluster directory" \
                "\"$parent\" is not traversable by $owner ($(stat -c '%A %U:%G' "$parent"))" \
                "run: chmod o+x \"$parent\", or pick a directory whose parents postgres can enter"
            return 1
        fi
    done
}

# 0 running, 3 stopped, 4 no cluster in DIR/data (as pg_ctl status). Someone who is
# neither root nor the owner cannot read the data directory, so asks the socket instead.
s_pg_state() {
    if [ "$(id -u)" -ne 0 ] && [ ! -O "$PG_DIR/data" ] && [ -e "$PG_DIR/data" ]; then
        "$PG_BINDIR/pg_isready" -q -h "$PG_DIR" >/dev/null 2>&1 && return 0
        return 3
    fi
    [ -f "$PG_DIR/data/PG_VERSION" ] || return 4
    s_pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1 && return 0
    return 3
}

# psql as the superuser over DIR's socket; extra arguments follow.
s_pg_psql() {
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres "$@"
}

# Create the database and its extensions when missing (cheap when they exist).
s_pg_ensure_database() {
    local exists
    exists=$(s_pg_psql -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'") || {
        s_pg_error "could not connect to the cluster" "socket directory $PG_DIR" \
            "see $PG_DIR/postgres.log"
        return 1
    }
    if [ "$exists" != 1 ]; then
        s_pg_psql -d postgres -c "CREATE DATABASE $PG_DATABASE" || {
            s_pg_error "could not create database \"$PG_DATABASE\""; return 1; }
    fi
    s_pg_psql -d "$PG_DATABASE" -c "SET client_min_messages = warning;
        CREATE EXTENSION IF NOT EXISTS pg_trgm;" || {
        s_pg_error "could not create extension pg_trgm in \"$PG_DATABASE\"" "" \
            "install postgresql-contrib (make deps)"
        return 1
    }
}

# Initialise (if needed) and start the cluster in DIR, then make sure the database exists.
# A lock on DIR/.pg.lock keeps two concurrent starts from racing on initdb.
pg_start() (
    s_pg_check_dir "${1:-}" || exit 1
    s_pg_prepare_dir || exit 1
    exec 9>>"$PG_DIR/.pg.lock" && flock 9 || exit 1
    local what=started
    s_pg_state
    local state=$?
    if [ $state -eq 4 ]; then
        if [ -e "$PG_DIR/data" ] && [ -n "$(ls -A "$PG_DIR/data" 2>/dev/null)" ]; then
            s_pg_error "\"$PG_DIR/data\" exists but is not a PostgreSQL cluster" "" \
                "remove it, or pick another directory"
            exit 1
        fi
        s_pg_as_owner "$PG_BINDIR/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync \
            -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 9>&- || {
            s_pg_error "initdb failed" "$(tail -n 5 "$PG_DIR/initdb.log")" \
                "full output in $PG_DIR/initdb.log"
            exit 1
        }
        what="initialised and started"
        state=3
    fi
    if [ $state -eq 0 ]; then
        what="already running"
    else
        local fsync_opt="-F"
        [ "${PG_FSYNC:-off}" = on ] && fsync_opt=""
        local server_opts="-k $PG_DIR -c listen_addresses='' $fsync_opt"
        server_opts="$server_opts -c max_connections=200 -c shared_buffers=128MB"
        server_opts="$server_opts -c log_error_verbosity=terse -c log_min_error_statement=panic"
        s_pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/postgres.log" \
            -o "$server_opts" start >/dev/null 9>&- || {
            s_pg_error "could not start the PostgreSQL server in \"$PG_DIR\"" \
                "$(tail -n 5 "$PG_DIR/postgres.log" 2>/dev/null)" "full log in $PG_DIR/postgres.log"
            exit 1
        }
    fi
    s_pg_ensure_database || exit 1
    local fsync
    fsync=$(s_pg_psql -d "$PG_DATABASE" -tAc "SHOW fsync" 2>/dev/null)
    echo "pg: $what in $PG_DIR (fsync ${fsync:-unknown}), database $PG_DATABASE ready"
)

# Stop the cluster in DIR with a fast shutdown; nothing to do if it is not running.
pg_stop() (
    s_pg_check_dir "${1:-}" || exit 1
    s_pg_state
    case $? in
        4) echo "pg: no cluster in $PG_DIR"; exit 0 ;;
        3) echo "pg: not running in $PG_DIR"; exit 0 ;;
    esac
    s_pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null || {
        s_pg_error "could not stop the PostgreSQL server in \"$PG_DIR\"" "" \
            "run as root or as the owner of $PG_DIR/data; see $PG_DIR/postgres.log"
        exit 1
    }
    echo "pg: stopped in $PG_DIR"
)

# Print the state of the cluster in DIR; exit 0 running, 3 stopped, 4 no cluster.
pg_status() (
    s_pg_check_dir "${1:-}" || exit 1
    s_pg_state
    local state=$?
    case $state in
        0)
            local pid
            pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
            echo "pg: running in $PG_DIR${pid:+ (pid $pid)}" ;;
        3) echo "pg: not running in $PG_DIR" ;;
        4) echo "pg: no cluster in $PG_DIR" ;;
    esac
    exit $state
)

# Print the libpq connection string for the cluster in DIR.
pg_dsn() (
    s_pg_check_dir "${1:-}" || exit 1
    echo "host=$PG_DIR user=postgres dbname=$PG_DATABASE"
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
        start | stop | status | dsn)
            if [ $# -ne 2 ]; then
                s_pg_error "expected one directory" "" "usage: pg.sh $1 DIR"
                exit 2
            fi
            "pg_$1" "$2"
            exit $? ;;
        *)
            echo "usage: pg.sh start|stop|status|dsn DIR" >&2
            echo "  PG_FSYNC=on pg.sh start DIR   fsync on (durable commits, for the bench)" >&2
            exit 2 ;;
    esac
fi
