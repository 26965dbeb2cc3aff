#!/usr/bin/env bash
# Every test Logport has, from a clean clone: formatting, lints, cfn-lint of template.yaml, the
# wasm32-wasip2 build of the core, unit + conformance + integration tests (real `logport up`
# processes; the AWS backend against local moto and dynalite servers), and the official Python SDK
# against a real server; the same suites through the Lambda handlers and `logport up --backend aws`
# on moto. Installs what it needs (the rustup target, a Python venv with the SDK,
# moto and cfn-lint, dynalite from npm, rsyslog from Debian, chromium from Debian and playwright-core
# from npm for the console's browser tests).
#
#   CARGO_TARGET_DIR  reuse a build directory outside the clone (faster repeated runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A run from a clean clone gains nothing from incremental caches, which would take gigabytes of
# disk beside the build (one per feature set of every workspace crate).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

target_dir="${CARGO_TARGET_DIR:-target}"
# Before each step: the test executables of the steps before are deleted (each is a few hundred
# MB of unoptimised code; the later steps build other feature sets, and cargo relinks one it
# needs again), and the free disk space is shown. A cold run peaks near 10 GB of target dir.
step() {
  if [ -d "$target_dir/debug/deps" ]; then
    find "$target_dir/debug/deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended -regex '.*-[0-9a-f]{16}' -delete
  fi
  printf '\n==> [%4ds] %s (disk: %s free)\n' "$SECONDS" "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"
}

step "toolchain: wasm32-wasip2 target, clang and wasi-libc (the query component's zstd)"
eval "$(bash infra/wasm-toolchain.sh)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings
# `logport up --backend aws` is behind the logport package's `aws` feature.
cargo clippy -p logport --all-targets --features aws -- -D warnings
# `logport consume --component` (wasmtime) is behind its `wasm` feature; the component builds for wasm32.
cargo clippy -p logport --all-targets --features wasm -- -D warnings
cargo clippy -p logport-consumer-component --target wasm32-wasip2 -- -D warnings
cargo clippy -p logport-agent-component --target wasm32-wasip2 -- -D warnings

step "template.yaml: cfn-lint"
# Pinned, in the project venv (shared with tests/sdk/run.sh); pip runs only when the version differs.
CFN_LINT_VERSION=1.58.0
LOGPORT_VENV="${LOGPORT_VENV:-$PWD/.venv}"
[ -x "$LOGPORT_VENV/bin/python" ] || python3 -m venv "$LOGPORT_VENV"
if [ "$("$LOGPORT_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true)" != "$CFN_LINT_VERSION" ]; then
  "$LOGPORT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi
"$LOGPORT_VENV/bin/cfn-lint" template.yaml

step "logport-core builds for wasm32-wasip2"
cargo build -p logport-core --target wasm32-wasip2

step "the agent's core (no native host) builds for wasm32-wasip2"
cargo build -p logport-agent --no-default-features --target wasm32-wasip2

step "local S3 + DynamoDB servers for the store-aws tests (moto, dynalite)"
# Installs them on first use; the tests fail instead of skipping when these are not running.
local_aws_env="$(bash infra/local-aws.sh start)"
eval "$local_aws_env"
trap 'bash infra/local-aws.sh stop' EXIT
export LOGPORT_REQUIRE_LOCAL_AWS=1

step "rsyslog for the consumer tests (a real syslog receiver over TCP, TLS, UDP)"
bash infra/rsyslog.sh

step "the WASI components (release-wasm profile)"
# One build of every component (small release-wasm profile), before any test: the wasm-host tests
# in the workspace run load them from the target directory, and must not meet an earlier build.
# The host (logport --features wasm) is built in the dev profile, whose Cranelift crates are
# optimised (Cargo.toml), so components compile in seconds.
cargo build --target wasm32-wasip2 --profile release-wasm -p logport-consumer-component -p logport-agent-component \
  -p logport-component-ingest -p logport-component-pull -p logport-component-query -p logport-component-testbed
wasm_components="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/wasm32-wasip2/release-wasm"

step "cargo test (unit, conformance, integration)"
cargo test --workspace

step "the consumer component: byte-identical to the native consumer"
LOGPORT_CONSUMER_WASM="$wasm_components/logport-consumer.wasm" cargo test -p logport --features wasm --test consumer

step "the agent component under the host's hard caps (32 MiB, 0.2 core, send bandwidth) into logport up"
LOGPORT_AGENT_WASM="$wasm_components/logport-agent.wasm" cargo test -p logport --features wasm --test agent_wasm

step "the shipper to an S3 endpoint (moto)"
# Its `aws` feature is off in the workspace build (logport up ships to directories).
cargo test -p logport-shipper --features aws,local --test s3

step "official SDK as judge (aliyun-log-python-sdk)"
cargo build -p logport
LOGPORT_BIN="${CARGO_TARGET_DIR:-target}/debug/logport" bash tests/sdk/run.sh -q

step "the web console in headless Chromium (playwright-core), against a real logport up"
LOGPORT_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/logport" bash tests/console/run.sh

# The AWS backend on moto for the suites below: a bucket of its own; every server the tests start
# gets a table and key prefix of its own (tests/support, tests/sdk/conftest.py), created on start.
# moto checks no signature, but the SDK wants credentials from the chain.
aws_test_env=(LOGPORT_TEST_BACKEND=aws LOGPORT_S3_BUCKET=logport-test LOGPORT_AWS_ENDPOINT="$LOGPORT_MOTO_ENDPOINT"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1)

step "the Lambda handlers on S3 + DynamoDB (moto): integration tests and the official SDK through logport-lambda-local"
# The same suites, served by the functions' handler code behind an emulated API Gateway that
# routes each request to the ingest, pull or query function as template.yaml does.
cargo build -p logport-lambda-local
lambda_local="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/logport-lambda-local"
env "${aws_test_env[@]}" LOGPORT_TEST_SERVER_BIN="$lambda_local" \
  cargo test -p logport --test http_api --test durability --test concurrency --test agent_config
env "${aws_test_env[@]}" LOGPORT_BIN="$lambda_local" bash tests/sdk/run.sh -q

step "the wasm components on Logport's wasmtime host (moto): caps, spin.toml, the integration suites and the official SDK"
# The same suites as on logport up and the Lambdas, served by `logport serve-wasm` (through
# infra/serve-wasm-up.sh, which speaks logport up's command line). The shipper is a scheduled
# function, not an edge component: its SDK tests are left out here.
LOGPORT_REQUIRE_WASM=1 LOGPORT_WASM_COMPONENTS="$wasm_components" cargo test -p logport-wasm-host
cargo build -p logport --features wasm
wasm_env=(LOGPORT_WASM_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/logport"
  LOGPORT_WASM_COMPONENTS="$wasm_components")
env "${aws_test_env[@]}" "${wasm_env[@]}" LOGPORT_TEST_SERVER_BIN="$PWD/infra/serve-wasm-up.sh" \
  cargo test -p logport --features wasm --test wasm_edge --test http_api --test durability --test concurrency --test query
env "${aws_test_env[@]}" "${wasm_env[@]}" LOGPORT_BIN="$PWD/infra/serve-wasm-up.sh" \
  bash tests/sdk/run.sh -q --ignore=tests/sdk/test_shipper.py

step "logport up --backend aws (moto): integration tests"
# Last: it builds the logport binary with the `aws` feature.
env "${aws_test_env[@]}" cargo test -p logport --features aws --test http_api --test durability --test concurrency \
  --test agent_config

step "all tests passed"
