#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and prints its URL (a
# superuser, trust authentication, loopback only); `scripts/postgres.sh stop
# DIR` stops it and removes DIR. Used by scripts/test.sh.
set -euo pipefail
if [ "${1:-}" = stop ]; then
    dir=$2
    bin=$(cat "$dir/bin")
    as=$(stat -c %U "$dir/data")
    runuser -u "$as" -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 \
        || "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit 0
fi
dir=$1
bin=$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -1)")
if [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL's server is missing: run scripts/setup.sh (it installs it)" >&2
    exit 1
fi
mkdir -p "$dir"
echo "$bin" >"$dir/bin"
# PostgreSQL will not run as root: as root, run it as the postgres user.
run=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${run[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k $dir -h 127.0.0.1 -p $port -c fsync=off -c max_connections=400" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
echo "postgres://postgres@127.0.0.1:$port/postgres"
