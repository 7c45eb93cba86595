#!/usr/bin/env bash
# Differential test against a real PostgreSQL (docs/compatibility.md).
#
#   scripts/test-pgdiff.sh [--only ID ...] [--json FILE] [--no-index]
#
# Installs what it needs (idempotent, cached between runs): PostgreSQL's server
# from Debian's `postgresql` package, and a Python venv with pgdiff/requirements.txt
# at $HOME/.cache/redsql-pgdiff/venv (rebuilt only when that file changes).
# Then starts a throw-away PostgreSQL (as an unprivileged user, data and socket
# in a temp dir), one redsql (${REDSQL_BIN:-$CARGO_TARGET_DIR/debug/redsql})
# against $REDSQL_TEST_REDIS_URL (or a private Redis when unset), loads the same
# dataset into both and runs pgdiff/queries/*.sql on both (pgdiff/run.py).
# Everything started here is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}
redsql_bin=${REDSQL_BIN:-$CARGO_TARGET_DIR/debug/redsql}
cache=${REDSQL_PGDIFF_CACHE:-$HOME/.cache/redsql-pgdiff}

log() { echo "pgdiff: $*"; }
die() { echo "pgdiff: $*" >&2; exit 1; }

[ -x "$redsql_bin" ] || die "no redsql binary at $redsql_bin (build it with 'cargo build', or set REDSQL_BIN)"

# --- PostgreSQL server binaries -------------------------------------------------
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bindir)" ] || [ ! -x "$(pg_bindir)/initdb" ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "PostgreSQL's server is needed (install Debian's postgresql package)"
  log "installing Debian's postgresql package"
  # Only the binaries are wanted: no 'main' cluster, no service started.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq postgresql >/dev/null
fi
pg_bin=$(pg_bindir)

# --- Python venv with psycopg ----------------------------------------------------
venv="$cache/venv"
req="$root/pgdiff/requirements.txt"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null || true)" != "$want" ]; then
  log "creating the Python venv $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "python3 -m venv fails (install python3-venv)"
    log "installing Debian's python3-venv package"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" >"$venv/.requirements.sha256"
fi

# --- the servers -------------------------------------------------------------------
tmp=$(mktemp -d /tmp/redsql-pgdiff.XXXXXX)
redis_port="" redsql_pid="" pg_started=""
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root.
  pg_user=postgres
  id "$pg_user" >/dev/null 2>&1 || pg_user=redsql-pgdiff
  id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  chown "$pg_user" "$tmp"
  as_pg() { runuser -u "$pg_user" -- "$@"; }
fi

cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -n "$redsql_pid" ] && kill -0 "$redsql_pid" 2>/dev/null; then
    # The runner drops its tables; after a crash, drop them here (shared Redis).
    if [ -n "${redsql_port:-}" ]; then
      timeout 20 psql -X -q -h 127.0.0.1 -p "$redsql_port" -U pgdiff -d redsql \
        -c "DROP TABLE IF EXISTS pd_orders" -c "DROP TABLE IF EXISTS pd_customers" \
        -c "DROP TABLE IF EXISTS pd_products" >/dev/null 2>&1 || true
    fi
    kill "$redsql_pid" 2>/dev/null || true
    wait "$redsql_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_started" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$redis_port" ]; then
    scripts/redis-stop.sh "$redis_port" >/dev/null 2>&1 || true
  fi
  if [ "$status" != 0 ] && [ "$status" != 1 ]; then  # 1: differences, reported already
    for f in "$tmp/redsql.log" "$tmp/postgres.log"; do
      [ -s "$f" ] && { echo "--- last lines of $f"; tail -15 "$f"; } >&2
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT INT TERM

redis_url=${REDSQL_TEST_REDIS_URL:-}
if [ -z "$redis_url" ]; then
  redis_port=$(scripts/free-port.sh)
  scripts/redis-start.sh "$redis_port" >/dev/null
  redis_url="redis://127.0.0.1:$redis_port"
fi

pg_port=$(scripts/free-port.sh)
# Byte-order collation (C.UTF-8, or C), as redsql sorts strings byte-wise: see
# docs/compatibility.md. TimeZone UTC: the dataset has no time zones.
as_pg "$pg_bin/initdb" -D "$tmp/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$tmp/initdb.log" 2>&1 \
  || { rm -rf "$tmp/data"; as_pg "$pg_bin/initdb" -D "$tmp/data" -A trust -U postgres -E UTF8 \
         --locale=C --no-sync >"$tmp/initdb.log" 2>&1; } \
  || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
pg_started=1
as_pg "$pg_bin/pg_ctl" -D "$tmp/data" -l "$tmp/postgres.log" -w -t 60 start \
  -o "-p $pg_port -k $tmp -c listen_addresses='' -c fsync=off -c TimeZone=UTC" >/dev/null \
  || die "PostgreSQL did not start"

redsql_port=$(scripts/free-port.sh)
while [ "$redsql_port" = "$pg_port" ]; do redsql_port=$(scripts/free-port.sh); done
"$redsql_bin" serve --listen "127.0.0.1:$redsql_port" --redis "$redis_url" \
  --refresh-seconds 2 >"$tmp/redsql.log" 2>&1 &
redsql_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$redsql_port") 2>/dev/null && break
  kill -0 "$redsql_pid" 2>/dev/null || die "redsql exited at startup"
  sleep 0.1
done

PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" "$root/pgdiff/run.py" \
  --pg "host=$tmp port=$pg_port user=postgres dbname=postgres" \
  --redsql "host=127.0.0.1 port=$redsql_port user=pgdiff dbname=redsql" "$@"
