#!/usr/bin/env bash
# A Redis Cluster of our own: N masters (default 3) of the project's Redis with
# RediSearch and RedisJSON, on free ports of 127.0.0.1, no replicas.
#   scripts/redis-cluster.sh start [N]   prints the ports on stdout's last line
#   scripts/redis-cluster.sh stop PORT...
# Needs redis-cli (Debian's redis-tools) for `redis-cli --cluster create`.
# Connect redsql with redis+cluster://127.0.0.1:PORT1,127.0.0.1:PORT2,...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: redis-cluster.sh start [N] | stop PORT...}
shift

if [ "$cmd" = stop ]; then
  for p in "$@"; do "$root/scripts/redis-stop.sh" "$p" >/dev/null 2>&1 || true; done
  exit 0
fi
[ "$cmd" = start ] || { echo "redis-cluster: start or stop" >&2; exit 2; }
n=${1:-3}
"$root/scripts/ensure-command.sh" redis-cli redis-tools >&2

# Each node also listens on its port + 10000 (the cluster bus): both must be free.
ports=$(python3 - "$n" <<'PY'
import socket, sys
n, out = int(sys.argv[1]), []
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while len(out) < n:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    p = 20000 + p % 30000
    if p not in out and free(p) and free(p + 10000):
        out.append(p)
print(" ".join(map(str, out)))
PY
)
started=()
fail() {
  echo "redis-cluster: $*" >&2
  for p in "${started[@]}"; do "$root/scripts/redis-stop.sh" "$p" >/dev/null 2>&1 || true; done
  exit 1
}
for p in $ports; do
  "$root/scripts/redis-start.sh" "$p" --cluster >&2 || fail "node on port $p did not start"
  started+=("$p")
done
addrs=$(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done)
# shellcheck disable=SC2086
redis-cli --cluster create $addrs --cluster-replicas 0 --cluster-yes >/dev/null 2>&1 \
  || fail "redis-cli --cluster create failed"
for _ in $(seq 1 100); do
  ok=1
  for p in $ports; do
    redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
[ "$ok" = 1 ] || fail "the cluster did not reach cluster_state:ok"
echo "redis-cluster: $n masters on ports $ports" >&2
echo "$ports"
