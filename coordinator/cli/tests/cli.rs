//! The offline `gpesctl query` commands.

use std::path::PathBuf;
use std::process::Command;

fn gpesctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gpesctl"));
    // The query commands must not need the coordinator.
    for var in [
        "GPESCTL_ADDRESS",
        "GPESCTL_CA",
        "GPESCTL_TOKEN_FILE",
        "GPESCTL_CONFIG",
    ] {
        c.env_remove(var);
    }
    c
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/queries")
        .join(name)
}

#[test]
fn check_accepts_a_good_query() {
    let out = gpesctl()
        .args(["query", "check"])
        .arg(example("dm020.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(": ok (id dm020, hash sha256:"), "{stdout}");
}

#[test]
fn check_refuses_a_broken_query_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(example("dm020.yaml"))
        .unwrap()
        .replace("when: AGE < 17", "when: AGEX < 17");
    std::fs::write(&bad, text).unwrap();
    let out = gpesctl()
        .args(["query", "check"])
        .arg(example("dm020.yaml"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{}:32:15:", bad.display())),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("dm020.yaml: ok"), "{stdout}");
}

#[test]
fn explain_prints_the_rules() {
    let out = gpesctl()
        .args(["query", "explain"])
        .arg(example("dm020.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("DM020 — "), "{stdout}");
    assert!(stdout.contains("Groups of patients"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "id: x\ntitle: [\n").unwrap();
    let out = gpesctl()
        .args(["query", "explain"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr).unwrap().contains("bad.yaml:"));
}
