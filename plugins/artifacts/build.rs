//! Builds every guest plugin for `wasm32-wasip2` with a nested cargo, so the
//! host's tests always run against guests built from the current sources
//! (wasmtime's test-programs pattern). Paths are exported as environment
//! variables that `src/lib.rs` turns into constants.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, artifact name in the target folder, constant's env name)
const GUESTS: &[(&str, &str, &str)] = &[
    (
        "gpes-plugin-csv-export",
        "gpes_plugin_csv_export.wasm",
        "GPES_GUEST_CSV_EXPORT",
    ),
    (
        "gpes-plugin-fhir-ndjson",
        "gpes_plugin_fhir_ndjson.wasm",
        "GPES_GUEST_FHIR_NDJSON",
    ),
    (
        "gpes-test-guests",
        "examples/panic.wasm",
        "GPES_GUEST_PANIC",
    ),
    (
        "gpes-test-guests",
        "examples/endless_loop.wasm",
        "GPES_GUEST_ENDLESS_LOOP",
    ),
    (
        "gpes-test-guests",
        "examples/memory_bomb.wasm",
        "GPES_GUEST_MEMORY_BOMB",
    ),
    (
        "gpes-test-guests",
        "examples/open_named.wasm",
        "GPES_GUEST_OPEN_NAMED",
    ),
    (
        "gpes-test-guests",
        "examples/bad_record.wasm",
        "GPES_GUEST_BAD_RECORD",
    ),
    (
        "gpes-test-guests",
        "examples/clock_and_random.wasm",
        "GPES_GUEST_CLOCK_AND_RANDOM",
    ),
    (
        "gpes-test-guests",
        "examples/lossy_csv.wasm",
        "GPES_GUEST_LOSSY_CSV",
    ),
];

/// Variables set by the outer build (clippy, coverage, the outer target) that
/// must not leak into the guest build.
const CLEARED: &[&str] = &[
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("plugins/artifacts sits two levels below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir.join("guests");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args([
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
            "--locked",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Cargo takes `--lib` once, for every package named.
        .args([
            "-p",
            "gpes-plugin-csv-export",
            "-p",
            "gpes-plugin-fhir-ndjson",
        ])
        .arg("--lib")
        .args(["-p", "gpes-test-guests", "--examples"]);
    for var in CLEARED {
        cmd.env_remove(var);
    }
    // The nested build talks on stderr; stdout is for cargo: directives.
    cmd.stdout(std::io::stderr());
    let status = cmd
        .status()
        .expect("could not run cargo to build the guest plugins");
    if !status.success() {
        panic!(
            "building the guest plugins for wasm32-wasip2 failed (see above); if the target is \
             missing, run `rustup target add wasm32-wasip2` (the README's test command does this)"
        );
    }

    let built = target_dir.join("wasm32-wasip2").join("guest");
    for (_, artifact, var) in GUESTS {
        let wasm = built.join(artifact);
        assert!(
            wasm.is_file(),
            "the guest build did not produce {}",
            wasm.display()
        );
        println!("cargo:rustc-env={var}={}", wasm.display());
        let dep_info = wasm.with_extension("d");
        for source in dependencies(&dep_info) {
            println!("cargo:rerun-if-changed={}", source.display());
        }
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("sdk/wit").display()
    );
    // The lock file, and the manifest that holds the `guest` profile.
    for file in ["Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The source files a guest was built from, read from cargo's dep-info file
/// (`target: dep dep ...`, spaces in paths escaped with a backslash).
fn dependencies(dep_info: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return Vec::new();
    };
    let Some((_, deps)) = text.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = deps.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' | '\n' => {
                if !current.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(PathBuf::from(current));
    }
    out
}
