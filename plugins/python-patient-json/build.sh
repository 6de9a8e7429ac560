#!/usr/bin/env bash
# Builds the python-patient-json plugin into a WebAssembly component with
# componentize-py (scripts/setup.sh installs the pinned version from PyPI):
#
#   plugins/python-patient-json/build.sh [OUT.wasm]
#
# OUT defaults to target/python-patient-json/plugin.wasm under the workspace (or
# under $CARGO_TARGET_DIR when set). The bindings are generated from sdk/wit,
# world `plugin`, the one definition of the contract. $COMPONENTIZE_PY names
# another componentize-py program. The host's tests build the component
# through this script too (sdk/host/tests/it/python.rs), into a cache keyed
# by a hash of the sources. model.py (the data model's rules) is
# python-example's, copied in at build time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
out="${1:-${CARGO_TARGET_DIR:-$workspace/target}/python-patient-json/plugin.wasm}"
tool="${COMPONENTIZE_PY:-componentize-py}"
if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: $tool is not installed; scripts/setup.sh installs it from PyPI" >&2
    exit 127
fi
mkdir -p "$(dirname "$out")"
# componentize-py runs the app's imports at build time and leaves a
# __pycache__ beside the sources: build from a copy, so the tree stays clean.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here"/src/*.py "$work/"
# The data model's rules are python-example's, shared.
cp "$workspace"/plugins/python-example/src/model.py "$work/"
"$tool" --quiet --wit-path "$workspace/sdk/wit" --world plugin \
    componentize --python-path "$work" --output "$out.partial" app
mv -f "$out.partial" "$out"
