#!/usr/bin/env python3
"""Checks that building one package alone compiles its dependencies with
the same features as building the whole workspace, so that
`cargo build -p gpes-plugin-tool` after `cargo build` (or after the demo's
set) reuses every compiled dependency instead of building wasmtime again.

Cargo unifies a dependency's features over the packages of one invocation,
separately for code built for the target and for code run at build time
(build scripts, proc-macros and what they use). For every package listed
below, and for the demo's set, each dependency must appear with exactly the
features (and in the same context) that `cargo build` of the workspace's
default members gives it. `gpes-workspace-hack` (a dependency of gpes-host)
is where missing features are asked for: when this check fails, add the
dependency it names to `workspace-hack/Cargo.toml` with the workspace's
features, in `[dependencies]` for `target` lines and `[build-dependencies]`
for `host` lines. It reads only `cargo tree` (no build) and takes seconds.

Usage: scripts/check-features.py
"""

import re
import subprocess
import sys

# Packages with wasmtime in their build: building any of these alone must
# not build wasmtime (or anything under it) again. Packages without
# wasmtime may differ in small dependencies (serde, tokio); they are not
# checked, so that gpes-protocol keeps its rule of no tokio.
ALONE = [
    ["gpes-host"],
    ["gpes-plugin-tool"],
    ["gpes-agent"],
    ["gpes-tests"],
]
# What scripts/demo.sh builds.
DEMO = [
    "gpes-coordinator",
    "gpes-agent",
    "gpesctl",
    "gpes-plugin-artifacts",
    "gpes-synth",
    "gpes-plugin-tool",
]

NODE = re.compile(r"^(?P<name>\S+) v(?P<version>\S+)(?P<macro> \(proc-macro\))?(?: \((?P<path>/[^)]*)\))? \[(?P<features>[^\]]*)\]")


def units(packages):
    """(context, name, version, features) of every compiled unit in a build
    of `packages` (the default members when empty), workspace members
    left out."""
    args = ["cargo", "tree", "--locked", "-e", "normal,build", "-f", "{p} [{f}]"]
    for p in packages:
        args += ["-p", p]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{run.stderr}")
    out = run.stdout
    found = set()
    # Context of the node at each depth, and whether the lines now being
    # read are under a [build-dependencies] header at that depth.
    stack = []
    build_header_depth = None
    for line in out.splitlines():
        body = line.lstrip("│├└─ \u00a0")
        depth = (len(line) - len(body)) // 4
        if not body:
            continue
        if body.startswith("["):
            # The header stands one level above the dependencies it heads.
            build_header_depth = depth + 1 if body == "[build-dependencies]" else None
            continue
        if build_header_depth is not None and depth < build_header_depth:
            build_header_depth = None
        m = NODE.match(body)
        if not m:
            raise SystemExit(f"cannot read this cargo tree line: {line!r}")
        del stack[depth:]
        parent_host = stack[-1] if stack else False
        host = (
            parent_host
            or m["macro"] is not None
            or (build_header_depth is not None and depth == build_header_depth)
        )
        stack.append(host)
        if m["path"]:
            continue  # a workspace member
        found.add(("host" if host else "target", m["name"], m["version"], m["features"]))
    return found


def main():
    workspace = units([])
    # Where a unit's features are the same for both contexts, cargo tree
    # shows one node for the two, so a unit's context is not always known:
    # compare (name, version, features) and use the context in messages.
    known = {(n, v, f) for _, n, v, f in workspace}
    failures = 0
    for packages in ALONE + [DEMO]:
        what = " ".join(packages) if len(packages) == 1 else "the demo's set"
        extra = sorted(u for u in units(packages) if u[1:] not in known)
        if extra:
            failures += 1
            print(f"{what}: built alone, these differ from the workspace build:")
            for context, name, version, features in extra:
                same = sorted({f for _, n, v, f in workspace if (n, v) == (name, version)})
                print(f"  {context} {name} {version}: [{features}], workspace: {same}")
    if failures:
        print("add the workspace's features to workspace-hack/Cargo.toml (see this script's doc)")
        return 1
    print(f"features agree: {', '.join(' '.join(p) for p in ALONE)} and the demo's set build their dependencies as the workspace does")
    return 0


if __name__ == "__main__":
    sys.exit(main())
