#!/usr/bin/env bash
# What building the WASI components needs, installed when missing: the rustup target
# wasm32-wasip2, and for the query component (DataFusion's arrow-ipc links zstd, a C library)
# Debian's clang and wasi-libc. Prints the environment the C build needs, for `eval`:
#
#   eval "$(bash infra/wasm-toolchain.sh)"
#   cargo build --target wasm32-wasip2 --profile release-wasm -p logport-component-query
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2 >&2
fi
if ! command -v clang >/dev/null || [ ! -e /usr/include/wasm32-wasi/stdlib.h ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q clang wasi-libc >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q clang wasi-libc >/dev/null; }
fi
# The cc crate calls `clang --target=wasm32-wasip2`, a triple Debian's clang 14 has no sysroot
# for: point it at wasi-libc's headers (the C code of zstd needs only headers and libc calls
# that the Rust side's wasi libc provides at link time).
echo "export CFLAGS_wasm32_wasip2='-nostdlibinc -isystem /usr/include/wasm32-wasi'"
