#!/usr/bin/env bash
# The workspace's compiler in infra/test-all.sh (RUSTC_WORKSPACE_WRAPPER): clippy-driver, which is
# rustc plus clippy's lints, with warnings denied. Every build the tests need is then also the
# lint pass, for each feature set and target it is built for: no separate `cargo clippy` check
# of the dependencies (a check pass is a third of a build, once per feature set).
#
# cargo runs it as `clippy-rustc.sh <rustc> <args>` for workspace crates only (dependencies are
# compiled by plain rustc); LOGPORT_CLIPPY_DRIVER names clippy-driver.
set -euo pipefail
case " $* " in
  # A compilation (not cargo's `-vV` or `--print` queries): deny warnings.
  *" --crate-name "*) exec "$LOGPORT_CLIPPY_DRIVER" "$@" -D warnings ;;
  *) exec "$LOGPORT_CLIPPY_DRIVER" "$@" ;;
esac
