#!/usr/bin/env bash
# The peers the benchmarks measure against, installed on first use: ripgrep (Debian) and DuckDB
# (PyPI, in the project venv). Prints the venv's python path on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUCKDB_VERSION=1.5.6
LOGPORT_VENV="${LOGPORT_VENV:-$PWD/.venv}"
if ! command -v rg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" install -y -qq ripgrep >&2 || { "${apt_get[@]}" update -qq >&2 && "${apt_get[@]}" install -y -qq ripgrep >&2; }
fi
[ -x "$LOGPORT_VENV/bin/python" ] || python3 -m venv "$LOGPORT_VENV" >&2
if [ "$("$LOGPORT_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("duckdb"))' 2>/dev/null || true)" != "$DUCKDB_VERSION" ]; then
  "$LOGPORT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION" >&2
fi
echo "$LOGPORT_VENV/bin/python"
