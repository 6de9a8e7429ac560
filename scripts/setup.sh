#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine of this kind,
# idempotently (each step is instant when already done). These machines set
# RUSTUP_AUTO_INSTALL=0, so rust-toolchain.toml installs nothing by itself:
# the target is added explicitly. Never `rustup update` or `rustup toolchain
# install` here: they would move stable to a newer release.
set -euo pipefail
rustup target add wasm32-wasip2
rustup component add rustfmt clippy
# DuckDB (from PyPI) computes the example indicators independently of the
# engine, in the tests that check the engine against it.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "duckdb==2.0.1"
# icalendar (from PyPI): the independent parser the timetable feed's test reads
# the feed with.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "icalendar==7.3.2"
# componentize-py (from PyPI) builds the Python adapter, plugins/python-example,
# in the host's tests; 0.25.1 bundles CPython 3.14 and targets WASI 0.2, which
# wasmtime 48's linker provides.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "componentize-py==0.25.1"
# PostgreSQL's server binaries: the coordinator's scale-out store, which the
# test command starts a throwaway server of.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "PostgreSQL's server is missing: run 'sudo apt-get install postgresql'" >&2
        exit 1
    fi
fi
