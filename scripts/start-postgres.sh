#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the store tests and print its URL (only the URL) on stdout.
#
#   export UNIMETER_TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
#   scripts/start-postgres.sh stop        # stop the server this script started last and delete its data
#
# Installs PostgreSQL with apt-get when no server binaries are found. The cluster lives in a fresh temporary directory
# with trust authentication on 127.0.0.1 and on a private socket directory only, so it is never reachable from
# another host. When run as root, the server runs as the "postgres" user (PostgreSQL refuses to run as root).
set -euo pipefail

state_file="${TMPDIR:-/tmp}/unimeter-postgres.dir"

as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

find_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ]; then bin_dir="$dir"; fi  # the glob sorts ascending: the newest version wins
    done
    if [ -z "${bin_dir:-}" ] && command -v initdb >/dev/null 2>&1; then
        bin_dir="$(dirname "$(command -v initdb)")"
    fi
}

if [ "${1:-}" = stop ]; then
    [ -f "$state_file" ] || { echo "start-postgres.sh: no server recorded in $state_file" >&2; exit 0; }
    base="$(cat "$state_file")"
    bin_dir=""; find_bin
    as_server_user "$bin_dir/pg_ctl" -D "$base/data" -m fast stop >&2 || true
    rm -rf "$base" "$state_file"
    exit 0
fi

bin_dir=""
find_bin
if [ -z "$bin_dir" ]; then
    echo "start-postgres.sh: installing PostgreSQL with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    find_bin
fi
[ -n "$bin_dir" ] || { echo "start-postgres.sh: no initdb found after installing PostgreSQL" >&2; exit 1; }

base="$(mktemp -d "${TMPDIR:-/tmp}/unimeter-postgres.XXXXXX")"
chmod 0755 "$base"
if [ "$(id -u)" = 0 ]; then chown postgres: "$base"; fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

as_server_user "$bin_dir/initdb" -D "$base/data" -U postgres --auth=trust --encoding=UTF8 --no-sync >"$base/initdb.log"
as_server_user "$bin_dir/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$base -c fsync=off" start >&2 \
    || { cat "$base/server.log" >&2; exit 1; }
echo "$base" >"$state_file"
as_server_user "$bin_dir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE unimeter_test" >&2

echo "start-postgres.sh: server in $base (log: $base/server.log); stop with: $0 stop" >&2
echo "postgresql://postgres@127.0.0.1:$port/unimeter_test"
