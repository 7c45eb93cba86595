#!/usr/bin/env bash
# Stop the Redis that redis-start.sh started on PORT (by its pidfile only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${1:?usage: redis-stop.sh PORT}
pidfile="$root/.run/redis-$port/redis.pid"
[ -f "$pidfile" ] || { echo "redis-stop: no Redis of ours on port $port"; exit 0; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$pidfile"
echo "redis-stop: stopped redis on port $port"
