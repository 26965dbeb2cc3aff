#!/usr/bin/env bash
# `sam build` of template.yaml, offline: SAM runs cargo-lambda, which cross-compiles each function
# with Zig for the template's architecture into .aws-sam/build/<Function>/bootstrap. Installs what
# it needs: aws-sam-cli and cargo-lambda (its wheel brings Zig) into a venv, and the rustup target.
# Not part of infra/test-all.sh: a cold build of both functions takes many minutes on 2 cores.
#
#   ARCH              arm64 (default) or x86_64, the template's Architecture parameter
#   LOGPORT_SAM_VENV  the venv for the SAM CLI and cargo-lambda (default: <repo>/.venv-sam)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="${LOGPORT_SAM_VENV:-$REPO/.venv-sam}"
ARCH="${ARCH:-arm64}"
REQUIREMENTS=("aws-sam-cli==1.170.0" "cargo-lambda==1.9.2")

case "$ARCH" in
  arm64) TARGET=aarch64-unknown-linux-gnu ;;
  x86_64) TARGET=x86_64-unknown-linux-gnu ;;
  *) echo "sam-build: ARCH must be arm64 or x86_64, not $ARCH" >&2; exit 2 ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.logport-sam-requirements"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "${REQUIREMENTS[*]}" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "${REQUIREMENTS[*]}" >"$STAMP"
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi

export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
cd "$REPO"
sam validate --lint --template template.yaml
started=$(date +%s)
sam build --template template.yaml --config-file infra/samconfig.toml --parameter-overrides "Architecture=$ARCH"
elapsed=$(( $(date +%s) - started ))
for bootstrap in .aws-sam/build/*/bootstrap; do
  printf '%s: %s bytes\n' "$bootstrap" "$(stat -c %s "$bootstrap")"
done
echo "sam build ($ARCH) took ${elapsed} s"
