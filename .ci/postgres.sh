#!/usr/bin/env bash
# A throwaway PostgreSQL server for the state-store tests (tests/test_state_*.py).
#
#   bash .ci/postgres.sh CMD [ARG...]   start a server, run CMD with COMPLIANCE_TEST_PG_URL
#                                       exported, stop the server, exit with CMD's status
#   bash .ci/postgres.sh                start a server, print the URL, keep it running
#                                       until Ctrl-C / SIGTERM, then stop it
#
# Installs Debian's `postgresql` when its binaries are missing. The server runs as the
# `postgres` user (initdb refuses root) in a fresh temporary folder, on a random port
# on 127.0.0.1, with trust authentication for the user `test` and a database
# `compliance`; the folder is removed when the script exits. No fsync: the data is
# thrown away anyway, and tests that create and drop databases run many times faster.
# Exit status 1, with one line on stderr, when the server cannot be installed or
# started: CI must not go on as if PostgreSQL had been tested.
set -uo pipefail

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

PGBIN=$(pg_bin)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL saknas och apt-get finns inte"
    [ "$(id -u)" = "0" ] || die "PostgreSQL saknas och bara root kan installera det (apt-get install postgresql)"
    say "installerar Debians postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run (e.g. a background install) holds the lock: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/tmp/postgres-install.log 2>&1 \
        || { tail -n 3 /tmp/postgres-install.log >&2; die "apt-get update misslyckades"; }
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >>/tmp/postgres-install.log 2>&1 \
        || { tail -n 3 /tmp/postgres-install.log >&2; die "apt-get install postgresql misslyckades"; }
    PGBIN=$(pg_bin)
    [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || die "postgresql installerades men initdb hittas inte"
fi

# Run the server's programs as `postgres` when we are root, else as ourselves.
if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || die "användaren postgres saknas (ingår i Debians postgresql)"
    as_pg() { runuser -u postgres -- "$@"; }
    OWNER=postgres
else
    as_pg() { "$@"; }
    OWNER=$(id -un)
fi

D=$(mktemp -d /tmp/compliance-pg.XXXXXX) || die "kan inte skapa en tillfällig mapp"
chmod 755 "$D"
mkdir -p "$D/data" "$D/run"
chown "$OWNER" "$D/data" "$D/run"   # pg_ctl's log must be writable by the server's user

stop() {
    if [ -f "$D/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$D/data" -w stop -m fast >/dev/null 2>&1
    fi
    rm -rf "$D"
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

as_pg "$PGBIN/initdb" -D "$D/data" -A trust -U test -E UTF8 --locale=C.UTF-8 >"$D/run/initdb.log" 2>&1 \
    || { tail -n 3 "$D/run/initdb.log" >&2; die "initdb misslyckades"; }

PORT=""
for _ in 1 2 3 4 5; do
    try=$((20000 + RANDOM % 20000))
    if as_pg "$PGBIN/pg_ctl" -D "$D/data" -w -t 30 -l "$D/run/pg.log" \
        -o "-p $try -k $D/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null 2>&1; then
        PORT=$try
        break
    fi
done
[ -n "$PORT" ] || { tail -n 5 "$D/run/pg.log" >&2 2>/dev/null; die "servern startade inte"; }
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U test compliance \
    || die "createdb compliance misslyckades"

export COMPLIANCE_TEST_PG_URL="postgresql://test@127.0.0.1:$PORT/compliance"
say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') på 127.0.0.1:$PORT; COMPLIANCE_TEST_PG_URL=$COMPLIANCE_TEST_PG_URL"

if [ $# -gt 0 ]; then
    "$@"
    exit $?
fi
echo "COMPLIANCE_TEST_PG_URL=$COMPLIANCE_TEST_PG_URL"
say "kör tills Ctrl-C"
while true; do sleep 3600 & wait $!; done
