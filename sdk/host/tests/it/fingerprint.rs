use crate::common::*;
use gpes_host::{FileFingerprint, Limits};
use sha2::{Digest, Sha256};

/// Size and SHA-256 of a file, computed here from the whole file at once.
fn expected(dir: &tempfile::TempDir, name: &str) -> FileFingerprint {
    let bytes = std::fs::read(path(dir, name)).expect("read");
    FileFingerprint {
        name: name.into(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    }
}

async fn fingerprint(dir: &tempfile::TempDir) -> Vec<FileFingerprint> {
    let (_, extraction) = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect("extraction succeeds");
    extraction.fingerprint
}

#[tokio::test]
async fn entries_equal_each_files_size_and_sha256() {
    let dir = practice();
    let got = fingerprint(&dir).await;
    assert_eq!(
        got,
        [
            expected(&dir, "Patient.csv"),
            expected(&dir, "Registration.csv")
        ]
    );
}

#[tokio::test]
async fn flipping_one_byte_changes_exactly_that_entry() {
    let dir = practice();
    let before = fingerprint(&dir).await;
    let regs = path(&dir, "Registration.csv");
    let mut bytes = std::fs::read(&regs).expect("read");
    // A digit of p01's start year: 2010 becomes 2011 (still a good line).
    let at = bytes
        .windows(10)
        .position(|w| w == b"01/05/2010")
        .expect("p01's start date")
        + 9;
    bytes[at] ^= 0x01;
    std::fs::write(&regs, &bytes).expect("write");
    let after = fingerprint(&dir).await;
    assert_eq!(after.len(), before.len());
    assert_eq!(after[0], before[0], "Patient.csv is unchanged");
    assert_ne!(
        after[1].sha256, before[1].sha256,
        "Registration.csv changed"
    );
    assert_eq!(after[1], expected(&dir, "Registration.csv"));
}

#[tokio::test]
async fn the_same_plugin_and_data_give_the_same_fingerprint_twice() {
    let dir = practice();
    let first = fingerprint(&dir).await;
    let second = fingerprint(&dir).await;
    assert_eq!(first, second);
    assert_eq!(first.len(), 2);
}

#[tokio::test]
async fn a_file_read_in_many_chunks_is_hashed_whole() {
    // The open-named guest reads the file to the end; at 3 MB it takes
    // several chunks of at most 1 MiB.
    let dir = tempfile::tempdir().expect("temp dir");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).expect("write");
    let request = gpes_model::Request {
        practice: "big.bin".into(),
        tables: vec![],
        code_sets: vec![],
    };
    let extraction = plugin(gpes_plugin_artifacts::OPEN_NAMED)
        .extract(dir.path(), &request, &Limits::default(), |_| {})
        .await
        .expect("extraction succeeds");
    assert_eq!(
        extraction.fingerprint,
        [FileFingerprint {
            name: "big.bin".into(),
            bytes: big.len() as u64,
            sha256: hex::encode(Sha256::digest(&big)),
        }]
    );
}
