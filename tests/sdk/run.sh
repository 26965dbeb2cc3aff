#!/usr/bin/env bash
# Runs the "official SDK as judge" suite: the unchanged aliyun-log-python-sdk against a real
# `logport up` on 127.0.0.1.
#
#   LOGPORT_BIN   the logport binary (default: ${CARGO_TARGET_DIR:-<repo>/target}/debug/logport)
#   LOGPORT_VENV  the Python venv to create or reuse (default: <repo>/.venv)
#
# Extra arguments go to pytest (e.g. `tests/sdk/run.sh -k proxy -x`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${LOGPORT_VENV:-$REPO/.venv}"
LOGPORT_BIN="${LOGPORT_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/debug/logport}"
case "$LOGPORT_BIN" in
  /*) ;;
  *) LOGPORT_BIN="$PWD/$LOGPORT_BIN" ;;
esac
export LOGPORT_BIN

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi

# pip runs only when requirements.txt changed since the last install into this venv.
STAMP="$VENV/.logport-sdk-requirements.sha256"
WANT="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$WANT" > "$STAMP"
fi

if [ ! -x "$LOGPORT_BIN" ]; then
  echo "tests/sdk: no logport binary at $LOGPORT_BIN (run \`cargo build -p logport\` or set LOGPORT_BIN)" >&2
  exit 1
fi

cd "$REPO"
exec "$VENV/bin/python" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE" "$@"
