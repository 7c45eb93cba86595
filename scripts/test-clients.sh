#!/usr/bin/env bash
# Real clients against a live redsql: psql, pgjdbc, psycopg2, psycopg 3, SQLAlchemy,
# pandas, polars (connectorx, ADBC), node-postgres, and replays of what
# DBeaver, Metabase and Grafana send. See docs/clients.md, "Tested clients".
#
#   scripts/test-clients.sh [CLIENT...]    CLIENT: psql jdbc node psycopg2 psycopg3
#                                          sqlalchemy pandas polars dbeaver
#                                          metabase grafana (default: all)
#
# Installs the clients into caches kept between runs ($HOME/.cache/redsql-clients,
# reinstalled only when clients/requirements.txt or clients/node/package*.json
# change), starts one redsql (REDSQL_BIN, default $CARGO_TARGET_DIR/debug/redsql)
# against $REDSQL_TEST_REDIS_URL (or a private Redis started here), seeds
# clients/seed.sql through it, runs every client and judges the results against
# clients/expected-failures.txt (clients/judge.py). Logs: .run/clients/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}
bin=${REDSQL_BIN:-$CARGO_TARGET_DIR/debug/redsql}
cache=${REDSQL_CLIENTS_CACHE:-$HOME/.cache/redsql-clients}
logs=$root/.run/clients
all_clients=(psql jdbc node psycopg2 psycopg3 sqlalchemy pandas polars dbeaver metabase grafana)
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${all_clients[@]}")
started=$(date +%s)

say() { echo "test-clients: $*"; }
die() { echo "test-clients: $*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

[ -x "$bin" ] || die "no redsql binary at $bin (build it: cargo build, or set REDSQL_BIN)"

# --- install (idempotent) ----------------------------------------------------
scripts/ensure-command.sh psql postgresql-client
scripts/ensure-command.sh javac openjdk-17-jdk-headless
scripts/ensure-command.sh node nodejs
scripts/ensure-command.sh npm npm
mkdir -p "$cache" "$logs"

venv=$cache/venv
want=$(hash_of clients/requirements.txt <(python3 --version))
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  say "installing the Python clients into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r clients/requirements.txt
  echo "$want" > "$venv/.installed"
fi

node_dir=$cache/node
want=$(hash_of clients/node/package.json clients/node/package-lock.json)
if [ "$(cat "$node_dir/.installed" 2>/dev/null)" != "$want" ]; then
  say "installing node-postgres into $node_dir"
  rm -rf "$node_dir" && mkdir -p "$node_dir"
  cp clients/node/package.json clients/node/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$node_dir/.installed"
fi

jar=/usr/share/java/postgresql.jar
if [ ! -e "$jar" ]; then
  [ "$(id -u)" = 0 ] || die "pgjdbc is missing: apt-get install libpostgresql-jdbc-java"
  say "installing pgjdbc (libpostgresql-jdbc-java)"
  apt-get update -qq >/dev/null && apt-get install -y -qq libpostgresql-jdbc-java >/dev/null
fi
classes=$cache/jdbc/$(hash_of clients/jdbc/JdbcCheck.java <(readlink -f "$jar"))
if [ ! -e "$classes/JdbcCheck.class" ]; then
  say "compiling clients/jdbc/JdbcCheck.java"
  rm -rf "$cache/jdbc" && mkdir -p "$classes"
  javac -d "$classes" -cp "$jar" clients/jdbc/JdbcCheck.java
fi
installed=$(date +%s)

# --- servers -------------------------------------------------------------------
redis_port=""
redsql_pid=""
trace_pid=""
cleanup() {
  [ -n "$trace_pid" ] && kill "$trace_pid" 2>/dev/null || true
  [ -n "$redsql_pid" ] && kill "$redsql_pid" 2>/dev/null || true
  [ -n "$redsql_pid" ] && wait "$redsql_pid" 2>/dev/null || true
  [ -n "$redis_port" ] && scripts/redis-stop.sh "$redis_port" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_url=${REDSQL_TEST_REDIS_URL:-}
if [ -z "$redis_url" ]; then
  redis_port=$(scripts/free-port.sh)
  scripts/redis-start.sh "$redis_port" >/dev/null
  redis_url=redis://127.0.0.1:$redis_port
fi

: > "$logs/redsql.log"
: > "$logs/trace.log"
: > "$logs/results.txt"
port=$(scripts/free-port.sh)
REDSQL_LOG=${REDSQL_LOG:-redsql=debug} "$bin" serve --listen "127.0.0.1:$port" --redis "$redis_url" \
  > "$logs/redsql.log" 2>&1 &
redsql_pid=$!
# Clients connect through a tracing proxy: .run/clients/trace.log shows what
# each one sent and which statements redsql rejected.
trace_port=$(scripts/free-port.sh)
while [ "$trace_port" = "$port" ]; do trace_port=$(scripts/free-port.sh); done
python3 clients/pgtrace.py "$trace_port" "$port" "$logs/trace.log" 2> "$logs/pgtrace.err" &
trace_pid=$!

psql_args=(-X -q -h 127.0.0.1 -p "$trace_port" -U redsql -d redsql -v ON_ERROR_STOP=1)
for i in $(seq 1 100); do
  psql "${psql_args[@]}" -c 'SELECT 1' >/dev/null 2>&1 && break
  kill -0 "$redsql_pid" 2>/dev/null || { tail -20 "$logs/redsql.log" >&2; die "redsql exited"; }
  [ "$i" = 100 ] && { tail -20 "$logs/redsql.log" >&2; die "redsql did not answer on port $port"; }
  sleep 0.2
done
say "redsql on 127.0.0.1:$port (clients use the trace proxy on $trace_port), Redis $redis_url"
psql "${psql_args[@]}" -f clients/seed.sql > "$logs/seed.log" 2>&1 \
  || { cat "$logs/seed.log" >&2; die "seeding clients/seed.sql failed"; }

# --- clients -------------------------------------------------------------------
export REDSQL_HOST=127.0.0.1 REDSQL_PORT=$trace_port
py=$venv/bin/python
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in clients/
run_client() {  # NAME COMMAND...: run it, keep its CHECK lines and exit code
  local name=$1 code=0
  shift
  timeout 300 "$@" > "$logs/$name.log" 2>&1 || code=$?
  grep '^CHECK ' "$logs/$name.log" | tee -a "$logs/results.txt" || true
  echo "CLIENT $name EXIT $code" >> "$logs/results.txt"
  if [ "$code" != 0 ]; then
    say "$name exited with code $code; the end of $logs/$name.log:"
    tail -5 "$logs/$name.log"
  fi
}
for client in "${selected[@]}"; do
  case $client in
    psql) run_client psql clients/psql/check.sh 127.0.0.1 "$trace_port" ;;
    jdbc) run_client jdbc java -cp "$jar:$classes" JdbcCheck 127.0.0.1 "$trace_port" ;;
    node) run_client node env NODE_PATH="$node_dir/node_modules" node clients/node/check.js 127.0.0.1 "$trace_port" ;;
    psycopg2 | psycopg3 | sqlalchemy | pandas | polars)
      run_client "$client" "$py" clients/python/run.py "test_$client" ;;
    dbeaver | metabase | grafana)
      run_client "replay.$client" "$py" clients/replay/replay.py "clients/replay/$client.sql" ;;
    *) die "unknown client $client (one of: ${all_clients[*]})" ;;
  esac
done

# Leave the shared Redis as we found it.
psql "${psql_args[@]}" -c 'DROP TABLE IF EXISTS cl_city' -c 'DROP TABLE IF EXISTS cl_order' \
  -c 'DROP TABLE IF EXISTS cl_scratch' > /dev/null 2>&1 || say "could not drop the cl_ tables"

finished=$(date +%s)
say "install/check $((installed - started))s, servers and clients $((finished - installed))s; logs in $logs"
python3 clients/judge.py "$logs/results.txt" clients/expected-failures.txt "$logs/trace.log"
