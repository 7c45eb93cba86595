#!/usr/bin/env bash
# Start a Redis of our own on PORT, with RediSearch and RedisJSON unless --plain;
# --cluster starts it as a Redis Cluster node (see scripts/redis-cluster.sh).
#   scripts/redis-start.sh PORT [--plain] [--cluster]
# Writes its pidfile, log and data under .run/redis-PORT/. Refuses a port that is
# already taken, so it never adopts (or later stops) a Redis it did not start.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${1:?usage: redis-start.sh PORT [--plain]}
plain="" cluster=""
for opt in "${@:2}"; do
  case $opt in
    --plain) plain=--plain ;;
    --cluster) cluster=1 ;;
    *) echo "redis-start: unknown option $opt" >&2; exit 2 ;;
  esac
done
redis_dir=${REDSQL_REDIS_DIR:-$root/.redis}
run="$root/.run/redis-$port"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "redis-start: port $port is already in use; not starting (and not touching) that server" >&2
  exit 1
fi
"$root/scripts/install-redis.sh"
mkdir -p "$run"
args=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$run"
      --daemonize yes --pidfile "$run/redis.pid" --logfile "$run/redis.log")
if [ -n "$cluster" ]; then
  rm -f "$run/nodes.conf"  # a node of an earlier cluster would rejoin it
  args+=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000)
fi
if [ "$plain" != "--plain" ]; then
  args+=(--loadmodule "$redis_dir/lib/redisearch.so" --loadmodule "$redis_dir/lib/rejson.so")
fi
"$redis_dir/bin/redis-server" "${args[@]}"

for _ in $(seq 1 100); do
  if reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'PING\r\n' >&3; timeout 1 head -c 7 <&3) 2>/dev/null ) \
     && [ "${reply%$'\r'}" = "+PONG" ]; then
    echo "redis-start: redis on 127.0.0.1:$port (pid $(cat "$run/redis.pid"))"
    exit 0
  fi
  sleep 0.1
done
echo "redis-start: redis did not answer on port $port; log:" >&2
tail -20 "$run/redis.log" >&2 || true
exit 1
