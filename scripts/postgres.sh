#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks of the postgresql:// store.
#
#   eval "$(scripts/postgres.sh)"      # start (or reuse) the server; sets ECS_TEST_POSTGRES_URL
#   . scripts/postgres.sh              # same, when sourced
#   scripts/postgres.sh url            # print the URL only
#   scripts/postgres.sh stop           # stop the server and delete its data directory
#
# The server listens on 127.0.0.1 only, keeps its data in a temporary directory and is never a
# system service. Idempotent: a second start reuses the running server. Needs PostgreSQL's server
# binaries (Debian: apt-get install postgresql). Settings (environment):
#   ECS_PG_DIR   data + socket directory   (default: ${TMPDIR:-/tmp}/ecs-notebook-pg)
#   ECS_PG_PORT  TCP port                  (default: 54329)
#   ECS_PG_DB    database created for tests (default: ecs_test)
# Only the export line goes to stdout; progress goes to stderr.

_ecs_pg_main() {
    local cmd=${1:-start}
    local dir=${ECS_PG_DIR:-${TMPDIR:-/tmp}/ecs-notebook-pg}
    local port=${ECS_PG_PORT:-54329}
    local db=${ECS_PG_DB:-ecs_test}
    local user=ecs password=ecs
    local url="postgresql://$user:$password@127.0.0.1:$port/$db"

    local bindir=""
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        bindir=$(pg_config --bindir)
    else
        bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
    if [ "$cmd" != url ] && { [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; }; then
        echo "postgres.sh: PostgreSQL server binaries not found (Debian: apt-get install postgresql)" >&2
        return 1
    fi

    # initdb and postgres refuse to run as root: run them as the 'postgres' system user then.
    local -a as=()
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "postgres.sh: running as root, but there is no 'postgres' user to run the server as" >&2
            return 1
        fi
        as=(runuser -u postgres --)
    fi

    case "$cmd" in
    url)
        echo "$url"
        return 0
        ;;
    stop)
        if [ -f "$dir/data/PG_VERSION" ]; then
            "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
        echo "postgres.sh: stopped; removed $dir" >&2
        return 0
        ;;
    start) ;;
    *)
        echo "usage: scripts/postgres.sh [start|url|stop]" >&2
        return 2
        ;;
    esac

    if [ ! -f "$dir/data/PG_VERSION" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        chmod 700 "$dir"
        printf '%s\n' "$password" >"$dir/pwfile"
        if [ ${#as[@]} -gt 0 ]; then chown -R postgres: "$dir"; fi
        echo "postgres.sh: initdb in $dir/data" >&2
        # Password (SCRAM) authentication over TCP, so the tests can check wrong credentials.
        "${as[@]}" "$bindir/initdb" -D "$dir/data" --username="$user" --pwfile="$dir/pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            return 1
        }
    fi
    if ! "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "postgres.sh: starting on 127.0.0.1:$port" >&2
        "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-k $dir -h 127.0.0.1 -p $port -c max_connections=200" start >/dev/null || {
            tail -n 20 "$dir/server.log" >&2
            return 1
        }
    fi
    local psql=("${as[@]}" "$bindir/psql" -h "$dir" -p "$port" -U "$user" -X -q -v ON_ERROR_STOP=1)
    if [ "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null
    fi
    export ECS_TEST_POSTGRES_URL="$url"
    echo "postgres.sh: ready: $url" >&2
    if [ "${_ECS_PG_SOURCED:-0}" != 1 ]; then
        echo "export ECS_TEST_POSTGRES_URL=$url"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    _ecs_pg_main "$@"
else
    _ECS_PG_SOURCED=1 _ecs_pg_main "$@"
    unset -f _ecs_pg_main
fi
