#!/usr/bin/env bash
# persevere-durable and apalis side by side, in one run: builds the bench
# crate in side-by-side/ (outside the workspace: apalis and sqlx never reach
# the workspace's builds), starts a throwaway PostgreSQL on 127.0.0.1 the
# way .ci/postgres does (initdb in a temporary directory, run by `nobody`,
# fsync off), runs every row and prints a table. Run by hand, not in CI:
#
#     bash durable/benches/side-by-side.sh [--rounds N] [--only sqlite|postgres]
#
# Without PostgreSQL's Debian packages the PostgreSQL rows are skipped (and
# the script says so); every step is bounded in time and the server is
# stopped and its directory removed on any exit.
set -euo pipefail
cd "$(dirname "$0")/side-by-side"

export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*" >&2; }

step "build the bench crate (release)"
timeout 3600 cargo build --release --locked --quiet
bench=target/release/persevere-durable-side-by-side

# The PostgreSQL rows: a server of our own unless one was given.
want_pg=yes
for arg in "$@"; do
    if [ "$arg" = sqlite ]; then want_pg=no; fi
done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ "$want_pg" = yes ] && [ -z "${PERSEVERE_DURABLE_POSTGRES_URL:-}" ] && [ -n "$bin" ]; then
    pg_user=nobody
    dir=$(mktemp -d /tmp/persevere-bench-pg.XXXXXX)
    chown "$pg_user" "$dir"
    data=$dir/data
    port=$(timeout 30 python3 -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    as_pg() { (cd "$dir" && timeout 120 runuser -u "$pg_user" -- "$@"); }
    stop_pg() {
        if [ -f "$data/postmaster.pid" ]; then
            as_pg "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
    }
    trap stop_pg EXIT
    trap 'exit 143' TERM INT
    step "PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
CONF
    as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null
    export PERSEVERE_DURABLE_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
elif [ "$want_pg" = yes ] && [ -z "${PERSEVERE_DURABLE_POSTGRES_URL:-}" ]; then
    echo "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql): its rows are skipped" >&2
fi

step "run both libraries"
mkdir -p target
log=target/side-by-side.log
timeout 7200 "$bench" "$@" | tee "$log"

step "table (jobs/s, median of the rounds)"
awk '
/^# load/ { print; next }
/^bench / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    split(f["store"], sl, "-"); lib = sl[1]; db = sl[2]
    key = db " " f["mode"] " " f["workers"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    rate[key, lib] = f["jobs_per_s"]
}
END {
    print "| store | mode | workers | persevere jobs/s | apalis jobs/s | persevere / apalis |"
    print "|---|---|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
        split(order[i], k, " ")
        p = rate[order[i], "persevere"]; a = rate[order[i], "apalis"]
        ratio = (a > 0) ? sprintf("%.1fx", p / a) : "-"
        printf "| %s | %s | %s | %s | %s | %s |\n", k[1], k[2], k[3], p, a, ratio
    }
}' "$log"
