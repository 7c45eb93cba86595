#!/usr/bin/env bash
# ensure-command.sh COMMAND DEBIAN_PACKAGE: install the package with apt when
# COMMAND is missing (as root); otherwise say what to install and fail.
set -euo pipefail
cmd=$1
pkg=$2
command -v "$cmd" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing $pkg for $cmd"
  apt-get update -qq >/dev/null && apt-get install -y -qq "$pkg" >/dev/null
else
  echo "$cmd is needed (install $pkg)" >&2
  exit 1
fi
