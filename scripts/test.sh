#!/usr/bin/env bash
# Runs every test, installing what the tests need first. The coordinator's
# suites run twice: on the embedded SQLite store, then on a throwaway
# PostgreSQL server (the scale-out store), which also serves the tests that
# compare the two.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
pg=$(mktemp -d /tmp/gpes-test-postgres.XXXXXX)
trap 'scripts/postgres.sh stop "$pg"' EXIT
GPES_TEST_POSTGRES_URL=$(scripts/postgres.sh "$pg")
export GPES_TEST_POSTGRES_URL
cargo test --locked "$@"
echo "== the coordinator's suites again, on PostgreSQL"
GPES_TEST_BACKEND=postgres cargo test --locked -p gpes-tests --test it -- \
    agents:: audit:: compat:: e2e:: refusals:: registry:: runs:: scheduler:: durability:: store:: hardening:: openapi:: \
    declarations:: lifecycle:: participation:: permissions:: queries:: users::
