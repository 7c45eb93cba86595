#!/usr/bin/env bash
# Load benchmark: `redsql load` of a generated N-row, 6-column sales CSV
# against the limit measured in the same run, redis-benchmark's pipelined
# HSET of the same hash shape. Prints the median of RUNS runs of each and the
# ratio. Uses the dev build (`cargo build --tests`, what `make test` builds)
# unless REDSQL_BIN names another binary.
#   scripts/bench-load.sh [ROWS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-200000}
runs=${2:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}
scripts/ensure-command.sh redis-benchmark redis-tools
scripts/install-redis.sh >/dev/null
if [ -z "${REDSQL_BIN:-}" ]; then
  cargo build --tests -q
  REDSQL_BIN=$CARGO_TARGET_DIR/debug/redsql
fi
port=$(scripts/free-port.sh)
work=$(mktemp -d)
trap 'scripts/redis-stop.sh "$port" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
scripts/redis-start.sh "$port" >/dev/null
python3 scripts/gen-sales.py "$rows" "$work/sale.csv"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
redsql=()
limit=()
for r in $(seq "$runs"); do
  redis-cli -p "$port" FLUSHALL >/dev/null
  line=$("$REDSQL_BIN" load "$work/sale.csv" --table sale --key id --redis "redis://127.0.0.1:$port" --no-progress 2>&1 | tail -1)
  redsql+=("$(echo "$line" | sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/')")
  redis-cli -p "$port" FLUSHALL >/dev/null
  out=$(redis-benchmark -p "$port" -q -P 64 -c 4 -n "$rows" -r "$rows" \
    hset sale:__rand_int__ id 17 region north status completed amount 123.45 qty 7 ts 2024-01-01T10:00:00 2>/dev/null | tr '\r' '\n' | grep "requests per second" | tail -1)
  limit+=("$(echo "$out" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/' | cut -d. -f1)")
done
m_redsql=$(printf '%s\n' "${redsql[@]}" | median)
m_limit=$(printf '%s\n' "${limit[@]}" | median)
printf "%-46s %12s\n" "load of $rows rows (median of $runs)" "rows/s"
printf "%-46s %12s\n" "redsql load (CSV → hashes)" "$m_redsql"
printf "%-46s %12s\n" "redis-benchmark HSET -P 64 -c 4 (the limit)" "$m_limit"
awk -v a="$m_redsql" -v b="$m_limit" 'BEGIN { printf "%-46s %11.2fx\n", "ratio", a / b }'
