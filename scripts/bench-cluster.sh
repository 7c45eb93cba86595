#!/usr/bin/env bash
# Cluster benchmark: `redsql load` of a generated N-row, 6-column sales CSV
# and a full scan through the wire (psql, COPY (SELECT * FROM sale) TO
# STDOUT), then, with an index, a GROUP BY and a 1% filter with pushdown on
# and off, on one Redis and on a 3-master Redis Cluster of the same Redis,
# both on this machine, in the same run. Prints the median of RUNS runs of
# each (a query's time in a run: the median of QUERY_RUNS) and the ratio
# cluster / one node. Uses the dev build (what `make test` builds) unless
# REDSQL_BIN names another binary.
#   scripts/bench-cluster.sh [ROWS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-200000}
runs=${2:-3}
query_runs=${QUERY_RUNS:-5}
agg_sql="SELECT region, count(*), sum(qty), avg(amount) FROM sale GROUP BY region"
fetch_sql="SELECT * FROM sale WHERE amount >= 990"
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
  [ "$n" = "$rows" ] || { echo "bench-cluster: the scan returned $n rows, not $rows" >&2; exit 1; }
  scan=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
  sql "$pgport" "CREATE INDEX ON sale (region, status, amount, qty)" >/dev/null
  for _ in $(seq 1 300); do
    [ "$(sql "$pgport" "SELECT index_usable FROM redsql.tables WHERE table_name = 'sale'")" = t ] && break
    sleep 0.2
  done
  local times=()
  for setting in on off; do
    for q in "$agg_sql" "$fetch_sql"; do
      times+=("$(timed "$pgport" "$setting" "$q")")
    done
  done
  kill "$redsql_pid"; wait "$redsql_pid" 2>/dev/null || true; redsql_pid=""
  echo "$load $scan ${times[*]}"
}

sql() { # port query: the first column of the answer, unaligned
  psql -X -q -At -h 127.0.0.1 -p "$1" -U bench -d redsql -c "$2"
}

timed() { # port on|off query: the median time of QUERY_RUNS runs, in ms
  { echo "SET redsql.pushdown = $2;"; echo '\timing on'
    for _ in $(seq "$query_runs"); do echo "$3;"; done; } \
    | psql -X -q -h 127.0.0.1 -p "$1" -U bench -d redsql -o /dev/null \
    | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | median
}

single=() cluster=()
for _ in $(seq "$runs"); do
  single+=("$(measure "$single_url")")
  cluster+=("$(measure "$cluster_url")")
done
# The median over the runs of field $1 of the measurements $2...
col() { local i=$1; shift; printf '%s\n' "$@" | awk -v i="$i" '{print $i}' | median; }
row() { # label unit field
  local a b
  a=$(col "$3" "${single[@]}") b=$(col "$3" "${cluster[@]}")
  printf "%-52s %12s %12s %7.2fx\n" "$1" "$a $2" "$b $2" "$(awk -v a="$b" -v b="$a" 'BEGIN{print a/b}')"
}
printf "%-52s %12s %12s %8s\n" "$rows rows, median of $runs" "1 node" "3 masters" "ratio"
row "redsql load (CSV → hashes)" "rows/s" 1
row "full scan (COPY (SELECT *) TO STDOUT, psql)" "rows/s" 2
row "GROUP BY region, pushed down" "ms" 3
row "WHERE amount >= 990 (1%), pushed down" "ms" 4
row "GROUP BY region, pushdown off (scan)" "ms" 5
row "WHERE amount >= 990 (1%), pushdown off (scan)" "ms" 6
echo "(query times: the median of $query_runs runs each, then over the runs; a ratio above 1 is slower on the cluster)"
echo "($(nproc) cores: the 3 masters, redsql and psql share them)"
