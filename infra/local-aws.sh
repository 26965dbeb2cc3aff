#!/usr/bin/env bash
# Local servers that speak the AWS protocols, for the store-aws tests: moto (S3 + DynamoDB on one
# port, from PyPI) and dynalite (a stricter DynamoDB, from npm). Both keep everything in memory.
# moto runs through moto_server_serialized.py (beside this script), which lets one request at a
# time into moto: plain `moto_server` does not isolate concurrent DynamoDB transactions.
#
#   eval "$(bash infra/local-aws.sh start)"   install if needed, start both on free 127.0.0.1 ports,
#                                             print the exports for the tests
#   bash infra/local-aws.sh stop              stop the servers started by the `start` above
#
#   LOGPORT_VENV             the Python venv moto goes into (default: <repo>/.venv, shared with
#                            tests/sdk/run.sh)
#   LOGPORT_NODE_DIR         where dynalite's node_modules go (default: <repo>/infra)
#   LOGPORT_LOCAL_AWS_STATE  the state directory of a running pair (pids, logs); `start` makes a
#                            new one and exports it, `stop` reads it
#
# `start` prints only `export ...` lines on stdout; progress and errors go to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${LOGPORT_VENV:-$REPO/.venv}"
NODE_DIR="${LOGPORT_NODE_DIR:-$HERE}"

MOTO_REQUIREMENT='moto[server]==5.2.5'
MOTO_VERSION='5.2.5'
READY_TIMEOUT_SECS=60

say() { printf 'local-aws: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

install_moto() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the venv $VENV"
    python3 -m venv "$VENV" >&2
  fi
  local installed
  installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
  if [ "$installed" != "$MOTO_VERSION" ]; then
    say "installing $MOTO_REQUIREMENT into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_REQUIREMENT" >&2
  fi
}

install_dynalite() {
  # npm ci runs only when the lock file changed since the last install into this directory.
  local stamp="$NODE_DIR/node_modules/.logport-lock.sha256" want
  want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] || [ ! -f "$NODE_DIR/node_modules/dynalite/cli.js" ]; then
    say "installing dynalite (npm ci) into $NODE_DIR/node_modules"
    if [ "$NODE_DIR" != "$HERE" ]; then
      mkdir -p "$NODE_DIR"
      cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
    fi
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `name` (the rest: its command, with PORT replaced by a free port) in its own session,
# waits until it accepts connections, and prints the port. Tries a few ports (another process may
# take a free port between the check and the bind).
start_server() {
  local name="$1"
  shift
  local attempt port pid deadline args
  for attempt in 1 2 3; do
    port="$(free_port)"
    args=()
    for arg in "$@"; do args+=("${arg//PORT/$port}"); done
    setsid "${args[@]}" </dev/null >"$STATE/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STATE/$name.pid"
    deadline=$((SECONDS + READY_TIMEOUT_SECS))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        say "$name is listening on 127.0.0.1:$port (pid $pid, log $STATE/$name.log)"
        echo "$port"
        return 0
      fi
      sleep 0.1
    done
    say "$name did not start on port $port (attempt $attempt); its log:"
    tail -n 20 "$STATE/$name.log" >&2 || true
    stop_pid "$name"
  done
  return 1
}

# Stops the server whose pid is in $STATE/<name>.pid (its whole process group), if it is still ours.
stop_pid() {
  local name="$1" pid
  pid="$(cat "$STATE/$name.pid" 2>/dev/null || true)"
  rm -f "$STATE/$name.pid"
  [ -n "$pid" ] || return 0
  # A pid can be reused after its process ended: only signal it if it still runs our command.
  if ! grep -qa -e moto_server -e dynalite "/proc/$pid/cmdline" 2>/dev/null; then
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

start() {
  command -v python3 >/dev/null || die "python3 is needed (for moto)"
  command -v node >/dev/null || die "node is needed (for dynalite)"
  install_moto
  install_dynalite
  STATE="$(mktemp -d "${TMPDIR:-/tmp}/logport-local-aws.XXXXXX")"
  local moto_port dynalite_port
  moto_port="$(start_server moto "$VENV/bin/python" "$HERE/moto_server_serialized.py" -H 127.0.0.1 -p PORT)" ||
    die "moto did not start (logs in $STATE)"
  dynalite_port="$(start_server dynalite node "$NODE_DIR/node_modules/dynalite/cli.js" \
    --host 127.0.0.1 --port PORT --createTableMs 0 --deleteTableMs 0 --updateTableMs 0)" || {
    stop_pid moto
    die "dynalite did not start (logs in $STATE)"
  }
  echo "export LOGPORT_MOTO_ENDPOINT=http://127.0.0.1:$moto_port" \
    "LOGPORT_DYNALITE_ENDPOINT=http://127.0.0.1:$dynalite_port" \
    "LOGPORT_LOCAL_AWS_STATE=$STATE"
}

stop() {
  STATE="${1:-${LOGPORT_LOCAL_AWS_STATE:-}}"
  [ -n "$STATE" ] || die "stop: LOGPORT_LOCAL_AWS_STATE is not set (nothing started by this shell)"
  [ -d "$STATE" ] || return 0
  stop_pid moto
  stop_pid dynalite
  rm -rf "$STATE"
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start | stop [STATE_DIR]" >&2
    exit 2
    ;;
esac
