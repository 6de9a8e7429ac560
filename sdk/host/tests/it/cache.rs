//! The compile cache: a second load takes the code compiled by the first
//! (in this host or another), a damaged or foreign entry is never trusted
//! but discarded and compiled again, and the folder is ours alone.

use crate::common::*;
use gpes_host::{CacheError, CompileCache, Compiled, Host, Limits, Plugin};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn host(dir: &Path) -> Host {
    Host::new()
        .expect("host starts")
        .with_cache(CompileCache::open(dir).expect("cache opens"))
}

fn wasm(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("guest was built")
}

/// The cache's entries (file names ending in `.cwasm`), sorted.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    found.sort();
    found
}

fn only_entry(dir: &Path) -> PathBuf {
    let found = entries(dir);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().expect("one")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The reason an entry was replaced, or a failure if it was not.
fn replaced(plugin: &Plugin) -> String {
    match plugin.compiled() {
        Compiled::Stored {
            replaced: Some(why),
        } => why.clone(),
        other => panic!("expected a replaced entry, got {other:?}"),
    }
}

async fn still_counts(plugin: &Plugin) {
    let dir = practice();
    let (count, _) = count(plugin, dir.path(), &Limits::default())
        .await
        .expect("the extraction succeeds");
    assert_eq!(count.registered, 8);
}

#[tokio::test]
async fn the_second_load_takes_the_compiled_code_from_the_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = wasm(gpes_plugin_artifacts::CSV_EXPORT);
    let first = host(dir.path());
    let plugin = first.load(&csv).expect("loads");
    assert_eq!(plugin.compiled(), &Compiled::Stored { replaced: None });
    let entry = only_entry(dir.path());
    assert_eq!(mode(&entry), 0o600);

    let again = first.load(&csv).expect("loads");
    assert_eq!(again.compiled(), &Compiled::FromCache);
    still_counts(&again).await;

    // Another host with the same settings (as another process would be).
    let second = host(dir.path());
    let other = second.load(&csv).expect("loads");
    assert_eq!(other.compiled(), &Compiled::FromCache);
    still_counts(&other).await;
    assert_eq!(entries(dir.path()), [entry], "nothing new was written");

    // Without a cache, nothing is read or written.
    let plain = HOST.load(&csv).expect("loads");
    assert_eq!(plain.compiled(), &Compiled::Uncached);
}

#[tokio::test]
async fn a_different_plugin_gets_a_different_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = host(dir.path());
    host.load(&wasm(gpes_plugin_artifacts::CSV_EXPORT))
        .expect("loads");
    let panic = wasm(gpes_plugin_artifacts::PANIC);
    let p = host.load(&panic).expect("loads");
    assert_eq!(p.compiled(), &Compiled::Stored { replaced: None });
    assert_eq!(entries(dir.path()).len(), 2);
    // A plugin one byte longer (a custom section's worth) is another plugin.
    let mut longer = wasm(gpes_plugin_artifacts::PANIC);
    longer.extend_from_slice(&[0, 2, 1, b'x']);
    let l = host.load(&longer).expect("loads");
    assert_eq!(l.compiled(), &Compiled::Stored { replaced: None });
    assert_eq!(entries(dir.path()).len(), 3);
    let again = host.load(&panic).expect("loads");
    assert_eq!(again.compiled(), &Compiled::FromCache);
}

#[tokio::test]
async fn a_damaged_entry_is_discarded_and_compiled_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = wasm(gpes_plugin_artifacts::CSV_EXPORT);
    let host = host(dir.path());
    host.load(&csv).expect("loads");
    let entry = only_entry(dir.path());
    let good = std::fs::read(&entry).expect("read");

    // One flipped bit in the machine code, far from the header.
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    std::fs::write(&entry, &flipped).expect("write");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("SHA-256"),
        "{:?}",
        plugin.compiled()
    );
    still_counts(&plugin).await;
    assert_eq!(
        std::fs::read(&entry).expect("read"),
        good,
        "rewritten whole"
    );
    assert_eq!(
        host.load(&csv).expect("loads").compiled(),
        &Compiled::FromCache
    );

    // Cut short, as by a crash while writing (which the rename prevents).
    std::fs::write(&entry, &good[..good.len() - 100]).expect("write");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("truncated"),
        "{:?}",
        plugin.compiled()
    );

    // Another plugin's entry put in its place.
    host.load(&wasm(gpes_plugin_artifacts::PANIC))
        .expect("loads");
    let other = entries(dir.path())
        .into_iter()
        .find(|p| *p != entry)
        .expect("the other entry");
    std::fs::copy(&other, &entry).expect("copy");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("another"),
        "{:?}",
        plugin.compiled()
    );

    // Garbage.
    std::fs::write(&entry, b"not an entry").expect("write");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("header"),
        "{:?}",
        plugin.compiled()
    );
    still_counts(&plugin).await;
}

#[tokio::test]
async fn an_entry_others_could_have_written_is_not_trusted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = wasm(gpes_plugin_artifacts::CSV_EXPORT);
    let host = host(dir.path());
    host.load(&csv).expect("loads");
    let entry = only_entry(dir.path());

    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("others"),
        "{:?}",
        plugin.compiled()
    );
    assert_eq!(mode(&entry), 0o600);

    // A symbolic link, even to a good entry of ours, is not followed.
    let aside = dir.path().join("aside");
    std::fs::rename(&entry, &aside).expect("rename");
    std::os::unix::fs::symlink(&aside, &entry).expect("symlink");
    let plugin = host.load(&csv).expect("loads");
    assert!(
        replaced(&plugin).contains("open"),
        "{:?}",
        plugin.compiled()
    );
    assert!(
        !std::fs::symlink_metadata(&entry)
            .expect("entry")
            .is_symlink()
    );

    // Another user's file (only root can make one to test with).
    match std::os::unix::fs::chown(&entry, Some(65534), None) {
        Ok(()) => {
            let plugin = host.load(&csv).expect("loads");
            assert!(replaced(&plugin).contains("belongs to user 65534"));
            assert_ne!(std::fs::metadata(&entry).expect("entry").uid(), 65534);
        }
        Err(e) => eprintln!("not root ({e}): the foreign-owner case was NOT tested"),
    }
}

#[test]
fn the_folder_is_ours_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = dir.path().join("a/b/cache");
    CompileCache::open(&fresh).expect("creates");
    assert_eq!(mode(&fresh), 0o700);

    let loose = dir.path().join("loose");
    std::fs::create_dir(&loose).expect("mkdir");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    CompileCache::open(&loose).expect("repairs");
    assert_eq!(mode(&loose), 0o700);

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&fresh, &link).expect("symlink");
    assert!(matches!(
        CompileCache::open(&link),
        Err(CacheError::NotAFolder { .. })
    ));
    let file = dir.path().join("file");
    std::fs::write(&file, b"").expect("write");
    assert!(CompileCache::open(&file).is_err());

    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    match std::os::unix::fs::chown(&foreign, Some(65534), None) {
        Ok(()) => assert!(matches!(
            CompileCache::open(&foreign),
            Err(CacheError::NotOwned { owner: 65534, .. })
        )),
        Err(e) => eprintln!("not root ({e}): the foreign-owner case was NOT tested"),
    }
}
