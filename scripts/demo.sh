#!/usr/bin/env bash
# The main job on the embedded default: a coordinator and two agents on
# loopback (one agent serving two practices), real TLS and real sled
# directories in a throwaway folder, enrolled with one-time tokens; the
# plugin signed with a supplier key made for the demo, which the agents
# trust; three seeded synthetic practices in the csv-export format; a
# collection of a
# published indicator (QOF DM020) scheduled with cron runs and its results
# are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null 2>&1
echo "building (release)..." >&2
cargo build --release --locked -q -p gpes-coordinator -p gpes-agent -p gpesctl -p gpes-plugin-artifacts -p gpes-synth -p gpes-plugin-tool
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The supplier's side: a signing key, and the plugin as the supplier ships
# it, with its signed manifest beside it (csv-export.wasm.sig.json).
mkdir -p "$work/plugins"
cp "$("$bin/gpes-guest-path" csv-export)" "$work/plugins/csv-export.wasm"
plugin=$work/plugins/csv-export.wasm
supplier="GPES reference adapters"
supplier_key=$("$bin/gpes-plugin" keygen --out "$work/supplier" --supplier "$supplier" 2>/dev/null)
"$bin/gpes-plugin" sign "$plugin" --key "$work/supplier/plugin-signing.key" --supplier "$supplier" >/dev/null
"$bin/gpes-plugin" verify "$plugin" --trust "$work/supplier/plugin-signing.pub" >&2

# Three synthetic practices (deterministic: the same seed, the same files).
for spec in A81001:1:3000 B82002:2:2000 C83003:3:1000; do
  IFS=: read -r code seed patients <<<"$spec"
  "$bin/gpes-synth" --seed "$seed" --patients "$patients" --practice "$code" \
    --out "$work/practices/$code" >/dev/null
done

# Coordinator, on ports the system picks.
mkdir -p "$work/coordinator"
cat > "$work/coordinator.toml" <<TOML
data_dir = "$work/coordinator"
agent_listen = "127.0.0.1:0"
operator_listen = "127.0.0.1:0"
scheduler_tick_ms = 250
TOML
"$bin/gpes-coordinator" --config "$work/coordinator.toml" >"$work/coordinator.out" 2>"$work/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do grep -q operator_addr "$work/coordinator.out" 2>/dev/null && break; sleep 0.1; done
operator=$(sed -n 's/.*operator_addr=\([^ ]*\).*/\1/p' "$work/coordinator.out")
[ -n "$operator" ] || { cat "$work/coordinator.log" >&2; exit 1; }
export GPESCTL_ADDRESS=$operator
export GPESCTL_CA=$work/coordinator/ca/ca.pem
export GPESCTL_TOKEN_FILE=$work/coordinator/admin.token
echo "coordinator: operator API on $operator" >&2

# The practices registry, from files in the ODS layouts: collections and
# tokens may name only its active practices.
"$bin/gpesctl" practice import examples/registry/epraccur.csv \
  --successors examples/registry/succ.csv | tail -1 >&2

# Two agents: one serving A81001 and B82002, one serving C83003.
start_agent() {
  local name=$1; shift
  local dir=$work/$name
  mkdir -p "$dir"
  {
    echo "data_dir = \"$dir/data\""
    printf '[[trusted_supplier]]\nname = "%s"\npublic_key = "%s"\n' "$supplier" "$supplier_key"
    for code in "$@"; do
      printf '[[practice]]\ncode = "%s"\nplugin = "%s"\ndata = "%s"\n' \
        "$code" "$plugin" "$work/practices/$code"
    done
  } > "$dir/agent.toml"
  local args=()
  for code in "$@"; do args+=(--practice "$code"); done
  local token
  token=$("$bin/gpesctl" token create "${args[@]}" --ttl 600)
  "$bin/gpes-agent" --config "$dir/agent.toml" enroll --token "$token" >&2
  "$bin/gpes-agent" --config "$dir/agent.toml" run 2>"$dir/agent.log" &
  pids+=($!)
}
start_agent agent-1 A81001 B82002
start_agent agent-2 C83003

# A collection that fires every minute (London time); the first run comes
# at the next minute boundary.
collection=$("$bin/gpesctl" collection create \
  --name "DM020 HbA1c <= 58" \
  --query examples/queries/dm020.yaml \
  --param PPED=2025-03-31 \
  --schedule "* * * * *" \
  --practice A81001 --practice B82002 --practice C83003 \
  --purpose payment --data-class aggregate)
echo "collection $collection scheduled '* * * * *'; waiting for its first run..." >&2
"$bin/gpesctl" runs --wait-for "$collection" --timeout 120
