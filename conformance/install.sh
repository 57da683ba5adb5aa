#!/usr/bin/env bash
# Idempotent installer for the Autobahn|Testsuite fuzzer (`wstest`).
#
#   bash conformance/install.sh            # install if needed, then print the wstest command
#   bash conformance/install.sh --check    # exit 0 only if an installed wstest works (installs nothing)
#
# Strategy, in order:
#   1. a Docker engine that answers `docker info`: the pinned image $WSTEST_IMAGE;
#   2. otherwise Python 2.7 (wstest is Python 2 only): the system python2.7 if present, else
#      python2.7 from Debian bullseye (added with a LOW apt pin so it never upgrades bookworm packages),
#      then a virtualenv in conformance/.cache/py27 with the pinned conformance/requirements-py27.txt.
# The result is recorded in conformance/.cache/wstest.json ({"mode": ..., "command": [...]}) for run.ts.
# Works non-interactively as root (CI=true, no stdin). WSTEST_FORCE_VENV=1 skips the Docker probe.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
VENV="$CACHE/py27"
STATE="$CACHE/wstest.json"
REQS="$HERE/requirements-py27.txt"
IMAGE="${WSTEST_IMAGE:-crossbario/autobahn-testsuite:25.10.1}"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
mkdir -p "$CACHE"

log() { echo "[conformance/install] $*" >&2; }

# Runs a command as root: directly when we are root, through sudo -n otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    log "need root (or password-less sudo) for: $*"; return 1; fi
}

# A stamp of the requirements, so that editing the pins reinstalls the virtualenv.
reqs_stamp() { sha256sum "$REQS" | cut -c1-16; }

venv_ok() {
  [ -x "$VENV/bin/wstest" ] && [ -f "$VENV/.reqs-stamp" ] && [ "$(cat "$VENV/.reqs-stamp")" = "$(reqs_stamp)" ] \
    && "$VENV/bin/wstest" --help >/dev/null 2>&1
}

write_state() { # mode, then the command words as JSON strings
  local mode="$1"; shift
  local IFS=,
  printf '{"mode":"%s","command":[%s]}\n' "$mode" "$*" >"$STATE"
}

docker_ok() {
  [ "${WSTEST_FORCE_VENV:-}" = 1 ] && return 1
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}

if [ "${1:-}" = "--check" ]; then
  if [ -f "$STATE" ] && grep -q '"mode":"docker"' "$STATE"; then docker_ok; exit $?; fi
  venv_ok; exit $?
fi

# ---------- 1. Docker ----------
if docker_ok; then
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "pulling $IMAGE"
    docker pull "$IMAGE" >&2
  fi
  # --network host: the fuzzer reaches testees on 127.0.0.1 and testees reach it; the cache and
  # report folders are mounted at the same paths, so generated spec files need no rewriting.
  # --init: wstest is not PID 1 then, so the SIGTERM the runner sends (proxied by `docker run`)
  # really stops the container.
  write_state docker '"docker"' '"run"' '"--rm"' '"--init"' '"--network"' '"host"' '"-v"' "\"$HERE:$HERE\"" \
    "\"$IMAGE\"" '"wstest"'
  log "using docker image $IMAGE"
  cat "$STATE"
  exit 0
fi

# ---------- 2. Python 2.7 virtualenv ----------
if venv_ok; then
  write_state venv "\"$VENV/bin/wstest\""
  log "cached: $VENV/bin/wstest"
  cat "$STATE"
  exit 0
fi

find_python27() {
  local p
  for p in "${WSTEST_PYTHON27:-}" /usr/bin/python2.7 /usr/local/bin/python2.7; do
    if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# The mirror URI the system already uses for its main Debian suite (deb822 or one-line format).
debian_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'BEGIN{RS=""; FS="\n"} /Suites:[^\n]*(bookworm|trixie|bullseye)( |\n|$)/ && !/-security/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, " "); print u[1]; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) !~ /-security/ && $i ~ /debian/) { print $i; exit } break } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  echo "http://deb.debian.org/debian"
}

install_python27_apt() {
  command -v apt-get >/dev/null || { log "no apt-get and no python2.7: set WSTEST_PYTHON27 or use Docker"; exit 1; }
  # shellcheck disable=SC1091
  local codename; codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ "$codename" != bullseye ] && [ "$codename" != buster ]; then
    local mirror; mirror=$(debian_mirror)
    log "adding Debian bullseye from $mirror (apt pin priority 100: only for packages bookworm lacks)"
    as_root tee /etc/apt/sources.list.d/wsc-bullseye-python27.list >/dev/null <<LIST
# Added by websocket-channel conformance/install.sh: python2.7 for the Autobahn testsuite.
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main
LIST
    as_root tee /etc/apt/preferences.d/wsc-bullseye-python27 >/dev/null <<PREF
# Bullseye is only a source of python2.7 and its libraries: never prefer it over the system's release.
Package: *
Pin: release n=bullseye
Pin-Priority: 100
PREF
  fi
  log "apt-get update"
  as_root apt-get update -qq >&2
  log "apt-get install python2.7 python2.7-dev"
  as_root apt-get install -y -qq --no-install-recommends python2.7 python2.7-dev </dev/null >&2
}

PY27=$(find_python27 || true)
if [ -z "$PY27" ]; then
  install_python27_apt
  PY27=$(find_python27) || { log "python2.7 still missing after apt"; exit 1; }
fi
log "python2.7: $PY27"

# virtualenv < 20.22 still creates Python 2.7 environments; keep it inside the cache, not system-wide.
PY3=$(command -v python3 || true)
[ -n "$PY3" ] || { log "python3 is needed to create the virtualenv"; exit 1; }
if ! PYTHONPATH="$CACHE/virtualenv" "$PY3" -c 'import virtualenv' 2>/dev/null; then
  log "installing virtualenv<20.22 into $CACHE/virtualenv"
  "$PY3" -m pip install -q --cache-dir "$CACHE/pip" --target "$CACHE/virtualenv" 'virtualenv==20.21.1' >&2
fi
rm -rf "$VENV"
log "creating $VENV"
PYTHONPATH="$CACHE/virtualenv" "$PY3" -m virtualenv -q -p "$PY27" "$VENV" >&2
log "pip install -r $(basename "$REQS")"
"$VENV/bin/pip" install -q --cache-dir "$CACHE/pip" -r "$REQS" >&2
reqs_stamp >"$VENV/.reqs-stamp"
venv_ok || { log "wstest --help failed after install"; exit 1; }
write_state venv "\"$VENV/bin/wstest\""
log "installed: $VENV/bin/wstest"
cat "$STATE"
