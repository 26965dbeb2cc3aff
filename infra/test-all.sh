#!/usr/bin/env bash
# Every test Logport has, from a clean clone: formatting, lints, the wasm32-wasip2 build of the
# core, unit + conformance + integration tests (real `logport up` processes), and the official
# Python SDK against a real server. Installs what it needs (the rustup target, a Python venv).
#
#   CARGO_TARGET_DIR  reuse a build directory outside the clone (faster repeated runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32-wasip2 target"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "logport-core builds for wasm32-wasip2"
cargo build -p logport-core --target wasm32-wasip2 --locked

step "cargo test (unit, conformance, integration)"
cargo test --workspace --locked

step "official SDK as judge (aliyun-log-python-sdk)"
cargo build -p logport --locked
LOGPORT_BIN="${CARGO_TARGET_DIR:-target}/debug/logport" bash tests/sdk/run.sh -q

step "all tests passed"
