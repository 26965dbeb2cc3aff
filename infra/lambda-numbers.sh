#!/usr/bin/env bash
# The Lambda functions' numbers for BENCHMARKS.md: the size of the stripped release binaries and
# the cold start (process start to the first handled event), on this machine's architecture.
#
#   RUNS              cold starts per measure (default 20)
#   FUNCTIONS         which functions to build and size (default "ingest pull query shipper"; the
#                     query function links DataFusion, the shipper Arrow and Parquet: their fat-LTO
#                     builds take much longer)
#   CARGO_TARGET_DIR  the build directory (default: <repo>/target)
#
# Cold start is measured twice when it can be:
#   - local adapter: `logport-lambda-local` built like the functions (profile release-lambda, no
#     query feature) over the embedded store: process start -> first HTTP answer;
#   - the real `logport-ingest` binary against an emulated Lambda Runtime API, when the AWS store
#     is reachable (LOGPORT_S3_BUCKET, LOGPORT_DYNAMODB_TABLE, LOGPORT_AWS_ENDPOINT set, e.g. by
#     `eval "$(bash infra/local-aws.sh start)"` plus a bucket and table).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${RUNS:-20}"
TARGET="${CARGO_TARGET_DIR:-target}"
PROFILE=release-lambda

FUNCTIONS="${FUNCTIONS:-ingest pull query shipper}"
packages=() bins=()
for function in $FUNCTIONS; do
  case "$function" in
    query) packages+=(-p logport-query-function) ;;
    shipper) packages+=(-p logport-shipper-function) ;;
    ingest | pull) packages+=(-p "logport-$function") ;;
    *) echo "unknown function $function" >&2; exit 2 ;;
  esac
  bins+=("logport-$function")
done

echo "==> cargo build --profile $PROFILE ($FUNCTIONS; then the local adapter without query)" >&2
# One package per cargo call: built together, cargo would unify their features (DataFusion in all).
for ((i = 0; i < ${#packages[@]}; i += 2)); do
  cargo build --locked --profile "$PROFILE" "${packages[i]}" "${packages[i + 1]}"
done
cargo build --locked --profile "$PROFILE" -p logport-lambda-local --no-default-features

echo "== binary sizes ($(uname -m), profile $PROFILE: opt-level 3, fat LTO, 1 codegen unit, panic=abort, stripped)"
for bin in "${bins[@]}" logport-lambda-local; do
  awk -v name="$bin" -v bytes="$(stat -c %s "$TARGET/$PROFILE/$bin")" \
    'BEGIN { printf "%-22s %9d bytes  (%.2f MB)\n", name, bytes, bytes / 1e6 }'
done

echo "== cold start, local adapter (embedded store), $RUNS runs"
python3 infra/lambda-cold-start.py local --runs "$RUNS" -- \
  "$TARGET/$PROFILE/logport-lambda-local" --insecure-no-auth --data-dir '{tmp}'

if [ -n "${LOGPORT_S3_BUCKET:-}" ] && [ -n "${LOGPORT_DYNAMODB_TABLE:-}" ]; then
  # The event is ListProjects: pull answers it 404 (not its call), after the same cold start.
  for bin in "${bins[@]}"; do
    echo "== cold start, $bin against an emulated Runtime API (store: S3 + DynamoDB at ${LOGPORT_AWS_ENDPOINT:-AWS}), $RUNS runs"
    python3 infra/lambda-cold-start.py runtime --runs "$RUNS" --env LOGPORT_INSECURE_NO_AUTH=true \
      --event crates/lambda/tests/data/list_projects.json -- "$TARGET/$PROFILE/$bin"
  done
else
  echo "== cold start of the function binaries: skipped (no LOGPORT_S3_BUCKET / LOGPORT_DYNAMODB_TABLE)"
fi
