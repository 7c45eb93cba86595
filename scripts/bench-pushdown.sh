#!/usr/bin/env bash
# Pushdown benchmark: ROWS sales rows in hashes with a RediSearch index over
# them, and two queries, (A) a GROUP BY aggregate over sortable fields and
# (B) a ~1%-selective filter returning rows. For each, the median of
# 3 × RUNS runs of
#   * redsql with pushdown on (psql \timing, RUNS runs per psql session after
#     one warm-up);
#   * the exact FT.AGGREGATE command redsql sends (taken from EXPLAIN), sent
#     directly over one RESP3 connection and its cursor read to the end with
#     FT.CURSOR READ, as redsql does (Python with the hiredis reply parser);
#   these two taking turns, three rounds of RUNS runs each;
# and the median of RUNS runs of
#   * the same commands through `redis-cli -3`, one process per command
#     (shown only when one reply holds the whole result);
#   * redsql with `SET redsql.pushdown = off` (the scan path);
# then the redsql/raw ratio, the scan/pushdown speedup, whether both paths
# returned the same rows, and the CPU time per run of redsql, Redis and the
# raw client (steadier than wall time on a busy machine). The rows are loaded
# by `redsql load` (the first 1000) and `redis-cli --pipe` (the rest, checked
# to be stored alike); the index is the one redsql reads (TAG SORTABLE UNF,
# NUMERIC SORTABLE). Uses the dev build (`cargo build --tests`) unless
# REDSQL_BIN names another binary; installs hiredis for Python when missing.
#   scripts/bench-pushdown.sh [ROWS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${1:-1000000}
runs=${2:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/redsql-target}
scripts/ensure-command.sh redis-cli redis-tools
scripts/ensure-command.sh psql postgresql-client
if ! python3 -c 'import hiredis' 2>/dev/null; then
  echo "installing the hiredis Python package (pip --user) for the raw FT baseline"
  python3 -m pip install --user -q hiredis
fi
scripts/install-redis.sh >/dev/null
if [ -z "${REDSQL_BIN:-}" ]; then
  cargo build --tests -q
  REDSQL_BIN=$CARGO_TARGET_DIR/debug/redsql
fi

rport=$(scripts/free-port.sh)
port=$(scripts/free-port.sh)
while [ "$port" = "$rport" ]; do port=$(scripts/free-port.sh); done
work=$(mktemp -d)
redsql_pid=
cleanup() {
  if [ -n "$redsql_pid" ]; then kill "$redsql_pid" 2>/dev/null || true; wait "$redsql_pid" 2>/dev/null || true; fi
  scripts/redis-stop.sh "$rport" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
scripts/redis-start.sh "$rport" >/dev/null
url="redis://127.0.0.1:$rport"
rcli() { redis-cli -p "$rport" "$@"; }

# --- data: the first rows through `redsql load` (declares the table and its
# types), the rest as HSETs in the same stored form through redis-cli --pipe.
head_rows=$((rows < 1000 ? rows : 1000))
t0=$(date +%s.%N)
python3 - "$rows" "$head_rows" "$work" <<'PY'
import random, sys
n, head, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(42)
regions = ["north", "south", "east", "west", "central", "alpine", "coast", "delta"]
statuses = ["completed", "open", "cancelled"]
def amount(cents):  # as redsql stores a double: shortest form, no ".0"
    return str(cents // 100) if cents % 100 == 0 else repr(cents / 100)
with open(f"{work}/head.csv", "w") as csv, open(f"{work}/head.expect", "w") as exp, \
        open(f"{work}/rest.resp", "wb") as resp:
    csv.write("id,region,status,amount,qty,ts\n")
    for i in range(n):
        region, status = rnd.choice(regions), rnd.choice(statuses)
        amt, qty = amount(rnd.randrange(100000)), str(rnd.randint(1, 20))
        day = f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        tod = f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00"
        if i < head:
            csv.write(f"{i},{region},{status},{amt},{qty},{day} {tod}\n")
            exp.write(f"{i}\t{region}\t{status}\t{amt}\t{qty}\t{day}T{tod}\n")
        else:
            args = [b"HSET", f"sale:{i}".encode(), b"id", str(i).encode(), b"region", region.encode(),
                    b"status", status.encode(), b"amount", amt.encode(), b"qty", qty.encode(),
                    b"ts", f"{day}T{tod}".encode()]
            resp.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
t1=$(date +%s.%N)
"$REDSQL_BIN" load "$work/head.csv" --table sale --key id --redis "$url" --no-progress >/dev/null 2>&1
if [ "$rows" -gt "$head_rows" ]; then
  rcli --pipe <"$work/rest.resp" >"$work/pipe.log"
  grep -q "errors: 0" "$work/pipe.log" || { cat "$work/pipe.log" >&2; exit 1; }
fi
t2=$(date +%s.%N)
# The piped rows must be stored exactly as redsql stores the loaded ones.
for i in $(seq 0 $((head_rows - 1))); do
  echo "HMGET sale:$i id region status amount qty ts"
done | rcli | paste - - - - - - >"$work/head.got"
cmp -s <(tr '\t' ' ' <"$work/head.expect") <(tr '\t' ' ' <"$work/head.got") \
  || { echo "bench-pushdown: generated rows differ from redsql load's:" >&2; diff "$work/head.expect" "$work/head.got" | head >&2; exit 1; }
[ "$(rcli DBSIZE)" -ge "$rows" ] || { echo "bench-pushdown: expected $rows keys" >&2; exit 1; }

# --- the index, as redsql defines one, and its build.
t3=$(date +%s.%N)
rcli FT.CREATE sale_idx ON HASH PREFIX 1 sale: SCHEMA \
  region TAG SEPARATOR $'\x1f' CASESENSITIVE INDEXMISSING INDEXEMPTY SORTABLE UNF \
  status TAG SEPARATOR $'\x1f' CASESENSITIVE INDEXMISSING INDEXEMPTY SORTABLE UNF \
  amount NUMERIC INDEXMISSING SORTABLE \
  qty NUMERIC INDEXMISSING SORTABLE >/dev/null
for _ in $(seq 1 1200); do
  info=$(rcli FT.INFO sale_idx)
  field() { echo "$info" | awk -v f="$1" 'prev == f {print; exit} {prev = $0}'; }
  [ "$(field indexing)" = 0 ] && [ "$(field percent_indexed)" = 1 ] && break
  sleep 0.25
done
docs=$(field num_docs)
t4=$(date +%s.%N)

# redsql starts once the index is built, so its startup catalog scan finds
# the index. The background rescan SCANs the whole keyspace (about 2 s of
# Redis time per rescan at 1M keys): it is pushed out of the measurement.
"$REDSQL_BIN" serve --listen "127.0.0.1:$port" --redis "$url" --refresh-seconds 86400 >"$work/redsql.log" 2>&1 &
redsql_pid=$!
pg() { psql -X -q -h 127.0.0.1 -p "$port" -U redsql -d redsql "$@"; }
for i in $(seq 1 100); do
  pg -c 'SELECT 1' >/dev/null 2>&1 && break
  [ "$i" = 100 ] && { echo "bench-pushdown: redsql did not start:" >&2; tail "$work/redsql.log" >&2; exit 1; }
  sleep 0.1
done

qa="SELECT region, count(*), sum(amount), min(amount), max(amount) FROM sale GROUP BY region"
qb="SELECT * FROM sale WHERE amount BETWEEN 500 AND 509.99"
names=(A B)
queries=("$qa" "$qb")
# Wait until redsql's catalog has the index and both queries use it.
for q in "${queries[@]}"; do
  for i in $(seq 1 300); do
    plan=$(pg -A -t -c "EXPLAIN $q" 2>&1 || true)
    echo "$plan" | grep -q "FT.AGGREGATE" && break
    [ "$i" = 300 ] && { echo "bench-pushdown: redsql does not push down: $q"$'\n'"$plan" >&2; exit 1; }
    sleep 0.2
  done
done

# CPU seconds × hz a process has used (user + system).
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
redis_pid=$(cat ".run/redis-$rport/redis.pid")
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The ms of RUNS timed runs (after one warm-up) of $2 in one psql session, one per line; $1: SET lines.
time_redsql() {
  {
    printf '%s\n' "$1" '\o /dev/null' "$2;" '\timing on'
    for _ in $(seq "$runs"); do printf '%s;\n' "$2"; done
  } >"$work/run.sql"
  pg -A -t -f "$work/run.sql" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'
}
# redsql and the raw FT client take turns, ROUNDS rounds of RUNS timed runs
# each, so a machine that gets busier or quieter during the run shifts both.
rounds=3
cat >"$work/raw.py" <<'PY'
import socket, statistics, subprocess, sys, time
import hiredis

port, runs, path, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def parse(line):
    """An FT command as redsql's EXPLAIN prints it: words, or '...' with \\' \\\\ \\x1f."""
    args, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        if line[i] == "'":
            i += 1
            word = []
            while line[i] != "'":
                if line[i] == "\\":
                    if line.startswith("\\x1f", i):
                        word.append("\x1f")
                        i += 4
                        continue
                    i += 1
                word.append(line[i])
                i += 1
            i += 1
            args.append("".join(word))
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            args.append(line[i:j])
            i = j
    return args

commands = [parse(l.strip())[1:] for l in open(path) if l.strip()]
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def call(*args):
    enc = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    sock.sendall(b"*%d\r\n" % len(enc) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in enc))
    reader = hiredis.Reader()
    while True:
        reply = reader.gets()
        if reply is not False:
            if isinstance(reply, hiredis.ReplyError):
                raise SystemExit(f"raw FT: {reply}")
            return reply
        reader.feed(sock.recv(1 << 20))

call("HELLO", "3")

def run():
    """Every command with its cursor read to the end; the rows the first
    one returns (later ones, such as per-group counts of rows missing a
    field, complete the first one's rows)."""
    n = 0
    for i, args in enumerate(commands):
        count = args[args.index("WITHCURSOR") + 2]
        page, cursor = call("FT.AGGREGATE", *args)
        while True:
            n += len(page[b"results"]) if i == 0 else 0
            if cursor == 0:
                break
            page, cursor = call("FT.CURSOR", "READ", args[0], cursor, "COUNT", count)
    return n

# mode "raw": the ms of each timed run, one per line, then "rows cpu-ms-per-run";
# mode "cli": the same commands through redis-cli (RESP3, one process per
# command, its output discarded), as a user would paste them: a cursor id
# other than 0 would mean rows left unread, so that figure would not count ("-").
def cli_run():
    whole = True
    for args in commands:
        out = subprocess.run(["redis-cli", "-3", "-p", str(port), "FT.AGGREGATE", *args],
                             stdout=subprocess.PIPE, check=True).stdout
        whole = whole and out.rstrip().splitlines()[-1].strip().endswith(b"0")
    return whole

if mode == "cli":
    whole = cli_run()
    cli = []
    for _ in range(runs):
        t = time.perf_counter()
        cli_run()
        cli.append((time.perf_counter() - t) * 1000)
    print(f"{statistics.median(cli):.3f}" if whole else "-")
    sys.exit(0)
cpu = time.process_time()
run()
for _ in range(runs):
    t = time.perf_counter()
    n = run()
    print(f"{(time.perf_counter() - t) * 1000:.3f}")
cpu = (time.process_time() - cpu) * 1000 / (runs + 1)
print(f"{n} {cpu:.0f}")
PY

printf '\npushdown benchmark: %s rows (%s indexed), ms: medians of %s runs (scan: %s)\n' "$rows" "$docs" "$((rounds * runs))" "$runs"
awk -v a="$t1" -v b="$t2" -v c="$t3" -v d="$t4" -v n="$rows" 'BEGIN {
  printf "load %.1f s (%.0f rows/s; generation not counted), index build %.1f s\n", b - a, n / (b - a), d - c }'
printf 'A: %s\nB: %s\n\n' "$qa" "$qb"
printf '%-5s %8s %12s %10s %7s %10s %12s %9s %10s\n' query rows "redsql (on)" "raw FT" ratio "redis-cli" "scan (off)" speedup "same rows"
for k in 0 1; do
  q=${queries[$k]}
  # The FT commands redsql sends for this query, from its EXPLAIN.
  pg -A -t -c "EXPLAIN $q" | grep -o 'FT\.AGGREGATE .*' >"$work/ft.txt"
  sed "s/^/${names[$k]} sends: /" "$work/ft.txt" >>"$work/sent.txt"
  : >"$work/on.ms"
  : >"$work/raw.ms"
  cpu_redsql=0 cpu_redis=0 cpu_raw=0
  for _ in $(seq "$rounds"); do
    c0=$(cpu "$redsql_pid"); r0=$(cpu "$redis_pid")
    time_redsql "" "$q" >>"$work/on.ms"
    cpu_redsql=$((cpu_redsql + $(cpu "$redsql_pid") - c0))
    cpu_redis=$((cpu_redis + $(cpu "$redis_pid") - r0))
    python3 "$work/raw.py" "$rport" "$runs" "$work/ft.txt" raw >"$work/raw.out"
    head -n -1 "$work/raw.out" >>"$work/raw.ms"
    read -r raw_n c <<<"$(tail -n 1 "$work/raw.out")"
    cpu_raw=$((cpu_raw + c))
  done
  cpu_redsql=$((cpu_redsql * 1000 / hz / (rounds * (runs + 1))))
  cpu_redis=$((cpu_redis * 1000 / hz / (rounds * (runs + 1))))
  cpu_raw=$((cpu_raw / rounds))
  on=$(median <"$work/on.ms")
  raw_ms=$(median <"$work/raw.ms")
  cli_ms=$(python3 "$work/raw.py" "$rport" "$runs" "$work/ft.txt" cli)
  pg -A -t -c "$q" | sort >"$work/on.txt"
  pg -A -t -c "SET redsql.pushdown = off" -c "$q" | sort >"$work/off.txt"
  n=$(wc -l <"$work/on.txt")
  same=no
  cmp -s "$work/on.txt" "$work/off.txt" && same=yes
  off=$(time_redsql "SET redsql.pushdown = off;" "$q" | median)
  printf '%s CPU ms per run with pushdown: redsql %s, Redis %s; raw FT client %s\n' \
    "${names[$k]}" "$cpu_redsql" "$cpu_redis" "$cpu_raw" >>"$work/cpu.txt"
  [ "$raw_n" = "$n" ] || same="no (raw FT: $raw_n rows)"
  awk -v q="${names[$k]}" -v n="$n" -v on="$on" -v raw="$raw_ms" -v cli="$cli_ms" -v off="$off" -v same="$same" 'BEGIN {
    printf "%-5s %8d %12.1f %10.1f %6.2fx %10s %12.1f %8.1fx %10s\n", q, n, on, raw, on / raw, cli, off, off / on, same }'
done
echo
cat "$work/sent.txt"
cat "$work/cpu.txt"
echo "raw FT = the same FT commands over one kept RESP3 connection read by hiredis; redis-cli = the same commands"
echo "through redis-cli -3 (a process each, output discarded); ratio = redsql pushdown / raw FT, the stricter"
echo "baseline (target <= 1.2x); speedup = scan path / redsql pushdown (target >= 20x)"
