//! The tool as its users run it: the real binary, real keys, the real
//! csv-export plugin, in temporary folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tool, with its default compile cache under the target folder rather
/// than the user's home.
fn tool(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpes-plugin"))
        .args(args)
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .output()
        .expect("the tool runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of the csv-export plugin in `dir`.
fn plugin(dir: &Path) -> PathBuf {
    let to = dir.join("csv-export.wasm");
    std::fs::copy(gpes_plugin_artifacts::CSV_EXPORT, &to).expect("copy");
    to
}

fn keygen(dir: &Path, supplier: &str) -> Output {
    tool(&[
        "keygen".as_ref(),
        "--out".as_ref(),
        dir.as_os_str(),
        "--supplier".as_ref(),
        supplier.as_ref(),
    ])
}

#[test]
fn keygen_sign_and_verify_work_together_and_a_tampered_plugin_fails_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    let out = keygen(&keys, "GPES reference adapters");
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.trim().starts_with("gpes-ed25519:"), "{line}");
    let private = keys.join("plugin-signing.key");
    let public = keys.join("plugin-signing.pub");

    let wasm = plugin(dir.path());
    let out = tool(&[
        "sign".as_ref(),
        wasm.as_os_str(),
        "--key".as_ref(),
        private.as_os_str(),
        "--supplier".as_ref(),
        "GPES reference adapters".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest = dir.path().join("csv-export.wasm.sig.json");
    let signed = gpes_sign::SignedManifest::read(&manifest).expect("written");
    assert_eq!(signed.manifest.name, "csv-export");

    let verify = |wasm: &Path| {
        tool(&[
            "verify".as_ref(),
            wasm.as_os_str(),
            "--trust".as_ref(),
            public.as_os_str(),
        ])
    };
    let out = verify(&wasm);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok: csv-export"), "{}", text(&out));

    // One byte flipped: refused, exit 1, the hash named.
    let mut bytes = std::fs::read(&wasm).expect("read");
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    std::fs::write(&wasm, bytes).expect("write");
    let out = verify(&wasm);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not the one the supplier signed"),
        "{}",
        text(&out)
    );
}

#[test]
fn verify_refuses_a_key_the_user_does_not_trust_and_an_unsigned_plugin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (signer, other) = (dir.path().join("signer"), dir.path().join("other"));
    assert!(keygen(&signer, "GPES reference adapters").status.success());
    assert!(keygen(&other, "GPES reference adapters").status.success());
    let wasm = plugin(dir.path());

    let out = tool(&[
        "verify".as_ref(),
        wasm.as_os_str(),
        "--trust".as_ref(),
        other.join("plugin-signing.pub").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("a site runs only signed plugins"),
        "{}",
        text(&out)
    );

    let out = tool(&[
        "sign".as_ref(),
        wasm.as_os_str(),
        "--key".as_ref(),
        signer.join("plugin-signing.key").as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = tool(&[
        "verify".as_ref(),
        wasm.as_os_str(),
        "--trust".as_ref(),
        other.join("plugin-signing.pub").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("does not trust"), "{}", text(&out));
}

#[test]
fn refusals_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    assert!(keygen(&keys, "Example Supplier Ltd").status.success());
    let before = std::fs::read(keys.join("plugin-signing.key")).expect("key");

    // A second keygen into the same folder.
    let out = keygen(&keys, "Example Supplier Ltd");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("never overwritten"), "{}", text(&out));
    assert_eq!(
        std::fs::read(keys.join("plugin-signing.key")).expect("key"),
        before
    );

    // Signing a plugin as a supplier its describe does not name.
    let wasm = plugin(dir.path());
    let out = tool(&[
        "sign".as_ref(),
        wasm.as_os_str(),
        "--key".as_ref(),
        keys.join("plugin-signing.key").as_os_str(),
        "--supplier".as_ref(),
        "Example Supplier Ltd".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("says its supplier is 'GPES reference adapters'"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("csv-export.wasm.sig.json").exists());

    // Something that is not a plugin.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").expect("write");
    let out = tool(&[
        "sign".as_ref(),
        junk.as_os_str(),
        "--key".as_ref(),
        keys.join("plugin-signing.key").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not a valid WebAssembly component"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("junk.wasm.sig.json").exists());
}

#[test]
fn run_compiles_a_plugin_once_and_takes_it_from_the_cache_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wasm = plugin(dir.path());
    let data = dir.path().join("practice");
    let out = tool(&[
        "synth".as_ref(),
        "--format".as_ref(),
        "csv-export".as_ref(),
        "--patients".as_ref(),
        "1000".as_ref(),
        "--out".as_ref(),
        data.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let cache = dir.path().join("cache");
    let query = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries/dm020.yaml");
    let run = |extra: &[&std::ffi::OsStr]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "run".as_ref(),
            wasm.as_os_str(),
            "--data".as_ref(),
            data.as_os_str(),
            "--query".as_ref(),
            query.as_os_str(),
        ];
        args.extend_from_slice(extra);
        let out = tool(&args);
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let with_cache = ["--cache-dir".as_ref(), cache.as_os_str()];
    let first = run(&with_cache);
    let second = run(&with_cache);
    assert!(text(&first).contains(", cached"), "{}", text(&first));
    assert!(
        text(&second).contains("from the cache"),
        "{}",
        text(&second)
    );
    assert!(
        text(&second).contains("extracting pass 1 of"),
        "{}",
        text(&second)
    );
    assert_eq!(first.stdout, second.stdout, "the same answer");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&cache).expect("made").permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    let uncached = run(&["--no-cache".as_ref()]);
    assert!(
        text(&uncached).contains("(no cache)"),
        "{}",
        text(&uncached)
    );
    assert_eq!(uncached.stdout, first.stdout);
}
