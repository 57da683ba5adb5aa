#!/usr/bin/env bash
# Installs the system packages the full test suite needs, idempotently:
# Debian's Chromium (browser tests), redis-server and nats-server (the
# backplane tests start their own on loopback ports), tinyproxy (the
# client's HTTP CONNECT proxy tests start their own) and the Autobahn
# testsuite (conformance).
# Skips what is already there; needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq chromium >/dev/null; }; then
    echo "setup: could not install chromium; browser tests will be skipped" >&2
  fi
fi

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nats-server >/dev/null || missing+=(nats-server)
[ -x /usr/bin/tinyproxy ] || missing+=(tinyproxy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian's ${missing[*]} for the backplane and proxy tests"
  export DEBIAN_FRONTEND=noninteractive
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "setup: could not install ${missing[*]}; backplane or proxy tests will fail" >&2
  fi
fi
# Debian starts a system redis-server on 6379 after installing it; the tests start their own.
# So does tinyproxy on 8888; the tests start their own with a generated config.
for service in redis-server tinyproxy; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    as_root systemctl stop "$service" >/dev/null 2>&1 || true
  fi
done

if [ -f conformance/install.sh ]; then
  bash conformance/install.sh
fi
