#!/usr/bin/env bash
# Installs the system packages the full test suite needs, idempotently:
# Debian's Chromium (browser tests) and the Autobahn testsuite (conformance).
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

if [ -f conformance/install.sh ]; then
  bash conformance/install.sh
fi
