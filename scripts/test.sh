#!/usr/bin/env bash
# The test command: sets up what is missing (idempotent), then runs formatting, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-build
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --quiet
cargo test --quiet 2>&1
