#!/usr/bin/env bash
# Runs every test, installing what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --locked "$@"
