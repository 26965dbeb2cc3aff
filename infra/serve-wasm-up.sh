#!/usr/bin/env bash
# `logport up`'s command line, served by the wasm components: what the integration tests
# (LOGPORT_TEST_SERVER_BIN) and the SDK judge (LOGPORT_BIN) start, turned into
# `logport serve-wasm --manifest spin.toml` on the AWS backend (moto), the store's table and
# prefix from the flags, created first when `--create-aws-resources` is given (boto3, from the
# venv infra/local-aws.sh installs moto into).
#
#   LOGPORT_WASM_BIN         the logport binary built with `--features wasm`
#   LOGPORT_WASM_COMPONENTS  the directory of the built components (.../wasm32-wasip2/release-wasm)
#   LOGPORT_S3_BUCKET, LOGPORT_AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${LOGPORT_VENV:-$REPO/.venv}"
: "${LOGPORT_WASM_BIN:?}" "${LOGPORT_WASM_COMPONENTS:?}" "${LOGPORT_S3_BUCKET:?}" "${LOGPORT_AWS_ENDPOINT:?}"
[ "${1:-}" = up ] || { echo "serve-wasm-up: only 'up' is supported" >&2; exit 2; }
shift
listen=127.0.0.1:0 table="" prefix="" max_body="" key_id="" key_secret="" insecure=false create=false names=""
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --data-dir | --backend | --log-format) shift 2 ;;
    --max-body-bytes) max_body="$2"; shift 2 ;;
    --access-key-id) key_id="$2"; shift 2 ;;
    --access-key-secret) key_secret="$2"; shift 2 ;;
    --insecure-no-auth) insecure=true; shift ;;
    --dynamodb-table) table="$2"; shift 2 ;;
    --s3-prefix) prefix="$2"; shift 2 ;;
    --server-name) names="${names:+$names,}$2"; shift 2 ;;
    --create-aws-resources) create=true; shift ;;
    *) echo "serve-wasm-up: unsupported option $1" >&2; exit 2 ;;
  esac
done
[ -n "$table" ] || { echo "serve-wasm-up: --dynamodb-table is required (LOGPORT_TEST_BACKEND=aws)" >&2; exit 2; }
if $create; then
  "$VENV/bin/python" - "$LOGPORT_AWS_ENDPOINT" "$LOGPORT_S3_BUCKET" "$table" <<'PY'
import os, sys, boto3
endpoint, bucket, table = sys.argv[1:4]
region = os.environ.get("AWS_REGION", "us-east-1")
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
try:
    s3.create_bucket(Bucket=bucket)
except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
    pass
dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
try:
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
except dynamodb.exceptions.ResourceInUseException:
    pass
PY
fi
exec env SPIN_VARIABLE_S3_BUCKET="$LOGPORT_S3_BUCKET" SPIN_VARIABLE_S3_PREFIX="$prefix" \
  SPIN_VARIABLE_DYNAMODB_TABLE="$table" SPIN_VARIABLE_AWS_ENDPOINT="$LOGPORT_AWS_ENDPOINT" \
  SPIN_VARIABLE_AWS_REGION="${AWS_REGION:-us-east-1}" SPIN_VARIABLE_AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:?}" \
  SPIN_VARIABLE_AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:?}" SPIN_VARIABLE_ACCESS_KEY_ID="$key_id" \
  SPIN_VARIABLE_ACCESS_KEY_SECRET="$key_secret" SPIN_VARIABLE_INSECURE_NO_AUTH="$insecure" \
  SPIN_VARIABLE_SERVER_NAMES="$names" SPIN_VARIABLE_MAX_BODY_BYTES="$max_body" \
  "$LOGPORT_WASM_BIN" serve-wasm --manifest "$REPO/spin.toml" --components-dir "$LOGPORT_WASM_COMPONENTS" \
  --listen "$listen" --allow-missing
