#!/usr/bin/env bash
# Every test Logport has, from a clean clone: formatting, lints (clippy, as every crate is
# built), cfn-lint of template.yaml, the WASI components, unit + conformance + integration tests
# (real `logport up` processes; the AWS backend against local moto and dynalite servers; the
# components on the wasmtime host), the official Python SDK and the console in a real browser
# against a real server; the same suites through the Lambda handlers, the wasm components and
# `logport up --backend aws` on moto. Installs what it needs (the rustup target, a Python venv with the SDK,
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
step() {
  printf '\n==> [%4ds] %s (disk: %s free)\n' "$SECONDS" "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"
}

# One feature set for every native build: the whole workspace, with `logport up --backend aws`
# and the wasm host (logport's `aws` and `wasm` features) compiled in. Every step selects the
# same packages and features, so cargo resolves the same units and no step rebuilds what an
# earlier one built (a `-p logport --features ...` of its own would rebuild the crates whose
# features it changes, and relink every test binary).
ws=(--workspace --features logport/aws,logport/wasm)
# Lints: the workspace's crates are compiled by clippy-driver with warnings denied, in every
# build below (native and wasm32, tests and benches), instead of separate `cargo clippy` passes.
LOGPORT_CLIPPY_DRIVER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export LOGPORT_CLIPPY_DRIVER RUSTC_WORKSPACE_WRAPPER="$PWD/infra/clippy-rustc.sh"

step "toolchain: wasm32-wasip2 target, clang and wasi-libc (the query component's zstd)"
eval "$(bash infra/wasm-toolchain.sh)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "template.yaml: cfn-lint"
# Pinned, in the project venv (shared with tests/sdk/run.sh); pip runs only when the version differs.
CFN_LINT_VERSION=1.58.0
LOGPORT_VENV="${LOGPORT_VENV:-$PWD/.venv}"
[ -x "$LOGPORT_VENV/bin/python" ] || python3 -m venv "$LOGPORT_VENV"
if [ "$("$LOGPORT_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true)" != "$CFN_LINT_VERSION" ]; then
  "$LOGPORT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi
"$LOGPORT_VENV/bin/cfn-lint" template.yaml

step "the WASI components (release-wasm profile, linted): the core and the agent's core build for wasm32-wasip2"
# One build of every component (small release-wasm profile), before any test: the wasm-host tests
# load them from the target directory. The consumer and edge components hold logport-core and
# the api crate, the agent component the agent's core without its native host: this is also
# the proof that those build for wasm32-wasip2. The host (logport --features wasm) is built in
# the dev profile, whose Cranelift crates are optimised (Cargo.toml), so components compile in
# seconds.
cargo build --target wasm32-wasip2 --profile release-wasm -p logport-consumer-component -p logport-agent-component \
  -p logport-component-ingest -p logport-component-pull -p logport-component-query -p logport-component-testbed
wasm_components="$(cd "$target_dir" && pwd)/wasm32-wasip2/release-wasm"

step "local S3 + DynamoDB servers (moto, dynalite) and rsyslog, for the tests"
# Installs them on first use; the tests fail instead of skipping when these are not running.
local_aws_env="$(bash infra/local-aws.sh start)"
eval "$local_aws_env"
trap 'bash infra/local-aws.sh stop' EXIT
export LOGPORT_REQUIRE_LOCAL_AWS=1
# A real syslog receiver over TCP, TLS and UDP for the consumer tests.
bash infra/rsyslog.sh

step "build the tests (linted: lib, bins, tests, benches)"
cargo test "${ws[@]}" --no-run
# The benchmarks are not run here (see BENCHMARKS.md), but compiled and linted, in test mode.
cargo test "${ws[@]}" --benches --no-run
# The servers the later steps start, with the same features (what cargo test built).
cargo build "${ws[@]}" --bin logport --bin logport-lambda-local
logport_bin="$(cd "$target_dir" && pwd)/debug/logport"
lambda_local="$(cd "$target_dir" && pwd)/debug/logport-lambda-local"

step "cargo test: unit, conformance (embedded, moto, dynalite), integration (logport up), wasm host and components"
# The component tests: the consumer component byte-identical to the native consumer, the agent
# component under the host's hard caps (32 MiB, 0.2 core, send bandwidth) and in central mode
# (tests/agent_config.rs; the native agent runs that test in the Lambda and AWS steps below).
LOGPORT_CONSUMER_WASM="$wasm_components/logport-consumer.wasm" LOGPORT_AGENT_WASM="$wasm_components/logport-agent.wasm" \
  LOGPORT_REQUIRE_WASM=1 LOGPORT_WASM_COMPONENTS="$wasm_components" cargo test "${ws[@]}"

step "official SDK as judge (aliyun-log-python-sdk)"
LOGPORT_BIN="$logport_bin" bash tests/sdk/run.sh -q

step "the web console in headless Chromium (playwright-core), against a real logport up"
LOGPORT_BIN="$logport_bin" bash tests/console/run.sh

# The AWS backend on moto for the suites below: a bucket of its own; every server the tests start
# gets a table and key prefix of its own (tests/support, tests/sdk/conftest.py), created on start.
# moto checks no signature, but the SDK wants credentials from the chain.
aws_test_env=(LOGPORT_TEST_BACKEND=aws LOGPORT_S3_BUCKET=logport-test LOGPORT_AWS_ENDPOINT="$LOGPORT_MOTO_ENDPOINT"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1)

step "the Lambda handlers on S3 + DynamoDB (moto): integration tests and the official SDK through logport-lambda-local"
# The same suites, served by the functions' handler code behind an emulated API Gateway that
# routes each request to the ingest, pull or query function as template.yaml does.
env "${aws_test_env[@]}" LOGPORT_TEST_SERVER_BIN="$lambda_local" \
  cargo test "${ws[@]}" --test http_api --test durability --test http_concurrency --test agent_config
env "${aws_test_env[@]}" LOGPORT_BIN="$lambda_local" bash tests/sdk/run.sh -q

step "the wasm components on Logport's wasmtime host (moto): spin.toml, the integration suites and the official SDK"
# The same suites as on logport up and the Lambdas, served by `logport serve-wasm` (through
# infra/serve-wasm-up.sh, which speaks logport up's command line). The shipper is a scheduled
# function, not an edge component: its SDK tests are left out here.
wasm_env=(LOGPORT_WASM_BIN="$logport_bin" LOGPORT_WASM_COMPONENTS="$wasm_components")
env "${aws_test_env[@]}" "${wasm_env[@]}" LOGPORT_TEST_SERVER_BIN="$PWD/infra/serve-wasm-up.sh" \
  cargo test "${ws[@]}" --test wasm_edge --test http_api --test durability --test http_concurrency --test query
env "${aws_test_env[@]}" "${wasm_env[@]}" LOGPORT_BIN="$PWD/infra/serve-wasm-up.sh" \
  bash tests/sdk/run.sh -q --ignore=tests/sdk/test_shipper.py

step "logport up --backend aws (moto): integration tests"
env "${aws_test_env[@]}" cargo test "${ws[@]}" --test http_api --test durability --test http_concurrency --test agent_config

step "logport with its default features (what the quick start builds): compiles, linted"
# Every step above ran the binary with all features; this builds the one a newcomer gets.
cargo build -p logport

step "all tests passed"
