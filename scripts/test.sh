#!/usr/bin/env bash
# The test command: sets up what is missing (idempotent), then runs formatting, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
# The optional dlib face analysis still builds where dlib is installed (it is not by default).
if pkg-config --exists dlib-1 2>/dev/null; then
  cargo clippy --features dlib --all-targets --quiet -- -D warnings
fi
cargo build --quiet
cargo test --quiet 2>&1
