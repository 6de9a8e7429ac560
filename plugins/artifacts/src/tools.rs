//! What the tests need from outside Rust, found or failed: never skipped.
//! A test that needs DuckDB or componentize-py (both from PyPI, installed by
//! `scripts/setup.sh`, which `scripts/test.sh` runs first) calls these; a
//! missing tool is a panic that names the command that installs it.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The versions `scripts/setup.sh` installs.
pub const DUCKDB: &str = "duckdb==2.0.1";
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

fn missing(what: &str, pip: &str, why: &str) -> ! {
    panic!(
        "{what} is needed by this test and is not installed here ({why}): run scripts/setup.sh, \
         which installs it (python3 -m pip install \"{pip}\"); scripts/test.sh runs it first"
    )
}

/// `python3`, checked to import `module` (from the PyPI package `pip`);
/// panics naming the install command otherwise.
pub fn python_with(module: &str, pip: &str) -> &'static str {
    match Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
    {
        Ok(out) if out.status.success() => "python3",
        Ok(out) => missing(
            &format!("the Python module {module}"),
            pip,
            String::from_utf8_lossy(&out.stderr).trim(),
        ),
        Err(e) => missing("python3", pip, &e.to_string()),
    }
}

/// `python3` with DuckDB, for the engine's independent cross-checks.
pub fn python_with_duckdb() -> &'static str {
    python_with("duckdb", DUCKDB)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python adapter (`plugins/python-example`) built by its `build.sh`
/// with componentize-py, cached under this crate's build folder by a hash
/// of its sources, the WIT, the build script and componentize-py's version
/// (so it is built once, not by every test). Panics naming the install
/// command when componentize-py is missing.
pub fn python_example() -> PathBuf {
    python_plugin("python-example")
}

/// The python-patient-json plugin (`plugins/python-patient-json`: a JSON
/// lines export of the patient-nested kind), built and cached like
/// [`python_example`] (whose `model.py` it shares).
pub fn python_patient_json() -> PathBuf {
    python_plugin("python-patient-json")
}

/// Builds `plugins/NAME` with its `build.sh` into a cache keyed by its
/// sources, python-example's (which every Python plugin may share), the WIT,
/// the build script and componentize-py's version.
fn python_plugin(name: &str) -> PathBuf {
    // One build at a time within a test binary.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let tool = std::env::var_os("COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into());
    let version = match Command::new(&tool).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => missing(
            "componentize-py",
            COMPONENTIZE_PY,
            &format!("--version failed: {}", String::from_utf8_lossy(&out.stderr)),
        ),
        Err(e) => missing("componentize-py", COMPONENTIZE_PY, &e.to_string()),
    };
    let plugin_dir = workspace().join("plugins").join(name);
    let mut hash = Sha256::new();
    hash.update(version.as_bytes());
    for (dir, ext) in [
        (plugin_dir.join("src"), "py"),
        (workspace().join("plugins/python-example/src"), "py"),
        (workspace().join("sdk/wit"), "wit"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("source folder exists")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).expect("read source");
            hash.update(file.file_name().expect("a name").as_encoded_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
    }
    hash.update(std::fs::read(plugin_dir.join("build.sh")).expect("build.sh exists"));
    let key = hex::encode(&hash.finalize()[..8]);
    let cache = Path::new(env!("OUT_DIR")).join(name);
    let wasm = cache.join(format!("plugin-{key}.wasm"));
    if wasm.is_file() {
        return wasm;
    }
    std::fs::create_dir_all(&cache).expect("create the cache folder");
    let partial = cache.join(format!("plugin-{key}.wasm.partial"));
    let out = Command::new("bash")
        .arg(plugin_dir.join("build.sh"))
        .arg(&partial)
        .env("COMPONENTIZE_PY", &tool)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "building the Python component failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, &wasm).expect("move the built component into place");
    // Older builds are of no further use.
    for entry in std::fs::read_dir(&cache).expect("cache folder").flatten() {
        let p = entry.path();
        if p != wasm && p.extension().is_some_and(|x| x == "wasm") {
            let _ = std::fs::remove_file(p);
        }
    }
    wasm
}
