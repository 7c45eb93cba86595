#!/usr/bin/env bash
# Cluster benchmark: `redsql load` of a generated N-row, 6-column sales CSV
# and a full scan through the wire (psql, COPY (SELECT * FROM sale) TO
# STDOUT), on one Redis and on a 3-master Redis Cluster of the same Redis,
# both on this machine, in the same run. Prints the median of RUNS runs of
# each and the ratio cluster / one node. Uses the dev build (what `make test`
# builds) unless REDSQL_BIN names another binary.
#   scripts/bench-cluster.sh [ROWS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-200000}
runs=${2:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}
scripts/ensure-command.sh psql postgresql-client
scripts/install-redis.sh >/dev/null
if [ -z "${REDSQL_BIN:-}" ]; then
  cargo build --tests -q
  REDSQL_BIN=$CARGO_TARGET_DIR/debug/redsql
fi
port=$(scripts/free-port.sh)
work=$(mktemp -d)
cluster_ports="" redsql_pid=""
cleanup() {
  [ -z "$redsql_pid" ] || kill "$redsql_pid" 2>/dev/null || true
  scripts/redis-stop.sh "$port" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  [ -z "$cluster_ports" ] || scripts/redis-cluster.sh stop $cluster_ports
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
scripts/redis-start.sh "$port" >/dev/null
cluster_ports=$(scripts/redis-cluster.sh start 3 2>/dev/null | tail -1)
single_url="redis://127.0.0.1:$port"
cluster_url="redis+cluster://$(for p in $cluster_ports; do printf '127.0.0.1:%s,' "$p"; done)"
cluster_url=${cluster_url%,}

python3 scripts/gen-sales.py "$rows" "$work/sale.csv"

flush() { # url
  if [ "$1" = "$single_url" ]; then
    redis-cli -p "$port" FLUSHALL >/dev/null
  else
    for p in $cluster_ports; do redis-cli -p "$p" FLUSHALL >/dev/null; done
  fi
}
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One load and one full scan against $1; prints "load_rows_per_s scan_rows_per_s".
measure() {
  local url=$1 line load scan pgport t0 t1 n
  flush "$url"
  line=$("$REDSQL_BIN" load "$work/sale.csv" --table sale --key id --redis "$url" --no-progress 2>&1 | tail -1)
  load=$(echo "$line" | sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/')
  pgport=$(scripts/free-port.sh)
  "$REDSQL_BIN" serve --listen "127.0.0.1:$pgport" --redis "$url" >"$work/serve.log" 2>&1 &
  redsql_pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pgport") 2>/dev/null && break; sleep 0.1; done
  t0=$(now)
  n=$(psql -X -q -h 127.0.0.1 -p "$pgport" -U bench -d redsql \
        -c "COPY (SELECT * FROM sale) TO STDOUT" | wc -l)
  t1=$(now)
  kill "$redsql_pid"; wait "$redsql_pid" 2>/dev/null || true; redsql_pid=""
  [ "$n" = "$rows" ] || { echo "bench-cluster: the scan returned $n rows, not $rows" >&2; exit 1; }
  scan=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
  echo "$load $scan"
}

single_load=() single_scan=() cluster_load=() cluster_scan=()
for _ in $(seq "$runs"); do
  read -r l s < <(measure "$single_url"); single_load+=("$l"); single_scan+=("$s")
  read -r l s < <(measure "$cluster_url"); cluster_load+=("$l"); cluster_scan+=("$s")
done
m() { printf '%s\n' "$@" | median; }
sl=$(m "${single_load[@]}") ss=$(m "${single_scan[@]}")
cl=$(m "${cluster_load[@]}") cs=$(m "${cluster_scan[@]}")
printf "%-44s %12s %12s %8s\n" "$rows rows, median of $runs (rows/s)" "1 node" "3 masters" "ratio"
printf "%-44s %12s %12s %7.2fx\n" "redsql load (CSV → hashes)" "$sl" "$cl" "$(awk -v a="$cl" -v b="$sl" 'BEGIN{print a/b}')"
printf "%-44s %12s %12s %7.2fx\n" "full scan (COPY (SELECT *) TO STDOUT, psql)" "$ss" "$cs" "$(awk -v a="$cs" -v b="$ss" 'BEGIN{print a/b}')"
echo "($(nproc) cores: the 3 masters, redsql and psql share them)"
