//! Durable storage for the coordinator and the agent: named trees of
//! records in one sled database, each record sealed with its own CRC-32C
//! checksum and verified on every read. A record that fails verification is
//! moved aside into a quarantine tree and reported as [`StoreError::Corrupt`],
//! never returned; callers recover through the protocol (the coordinator
//! still holds the job as not done, so the agent runs it again).
//!
//! sled is kept behind this small interface because its last release is old
//! and its tracker has open reports of databases that would not open after a
//! hard stop: replacing it must be a new implementation of [`Store`] and
//! [`Tree`], not a rewrite of their callers. This crate knows nothing of jobs,
//! extracts or collections; it stores bytes (and JSON, for convenience).
//! Nothing is durable until [`Store::flush`] returns: flush before any
//! acknowledgement.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Format of a sealed record: `[VERSION][crc32 of payload, 4 bytes LE][payload]`.
const VERSION: u8 = 1;
const HEADER: usize = 5;
/// The tree that holds records which failed verification, keyed by
/// `tree name, 0x00, key`.
const QUARANTINE: &str = "__quarantine";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "the store at {path} could not be opened: {source}; if it is damaged, move the folder aside (the agent does this itself) and restart"
    )]
    Open { path: PathBuf, source: sled::Error },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("record '{}' in tree '{tree}' failed its checksum and was moved aside", String::from_utf8_lossy(.key))]
    Corrupt { tree: String, key: Vec<u8> },
    #[error("record '{}' in tree '{tree}' is not the JSON expected: {source}", String::from_utf8_lossy(.key))]
    Decode {
        tree: String,
        key: Vec<u8>,
        source: serde_json::Error,
    },
    #[error("could not encode a record for tree '{tree}': {source}")]
    Encode {
        tree: String,
        source: serde_json::Error,
    },
}

/// How large sled's page cache may grow (its default is 1 GiB).
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            cache_bytes: 16 << 20,
        }
    }
}

/// One database: a set of named trees.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    quarantine: sled::Tree,
}

/// What [`Tree::insert_new`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The key was absent; the value is now stored.
    New,
    /// The key already held exactly this value; nothing changed.
    Same,
    /// The key already held another value (returned); nothing changed.
    Different(Vec<u8>),
}

fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(VERSION);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn open_seal(sealed: &[u8]) -> Option<&[u8]> {
    if sealed.len() < HEADER || sealed[0] != VERSION {
        return None;
    }
    let crc = u32::from_le_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]);
    let payload = &sealed[HEADER..];
    (crc32fast::hash(payload) == crc).then_some(payload)
}

impl Store {
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_bytes)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let quarantine = db.open_tree(QUARANTINE)?;
        Ok(Store { db, quarantine })
    }

    /// Opens the store, or, if it cannot be opened, moves the folder aside
    /// (to `<path>.damaged-<n>`), reports it, and starts an empty one. For
    /// stores whose contents can be recovered through the protocol (the
    /// agent's buffer); the coordinator uses [`Store::open`] and stops.
    pub fn open_or_set_aside(
        path: &Path,
        options: StoreOptions,
    ) -> Result<(Store, Option<PathBuf>), StoreError> {
        match Store::open(path, options) {
            Ok(store) => Ok((store, None)),
            Err(StoreError::Open { source, .. }) => {
                let mut n = 0;
                let aside = loop {
                    let candidate = PathBuf::from(format!("{}.damaged-{n}", path.display()));
                    if !candidate.exists() {
                        break candidate;
                    }
                    n += 1;
                };
                tracing::error!(
                    path = %path.display(),
                    aside = %aside.display(),
                    error = %source,
                    "store could not be opened; moved aside, starting empty"
                );
                std::fs::rename(path, &aside).map_err(|e| StoreError::Open {
                    path: path.to_owned(),
                    source: sled::Error::Io(e),
                })?;
                Ok((Store::open(path, options)?, Some(aside)))
            }
            Err(e) => Err(e),
        }
    }

    pub fn tree(&self, name: &str) -> Result<Tree, StoreError> {
        Ok(Tree {
            name: name.to_owned(),
            tree: self.db.open_tree(name)?,
            quarantine: self.quarantine.clone(),
        })
    }

    /// Makes every write so far durable. Call before acknowledging anything.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// As [`Store::flush`], without blocking the async runtime.
    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Records moved aside so far: (tree, key).
    pub fn quarantined(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.quarantine.iter() {
            let (k, _) = entry?;
            if let Some(sep) = k.iter().position(|b| *b == 0) {
                out.push((
                    String::from_utf8_lossy(&k[..sep]).into_owned(),
                    k[sep + 1..].to_vec(),
                ));
            }
        }
        Ok(out)
    }
}

/// A verified record: (key, payload).
pub type Entry = (Vec<u8>, Vec<u8>);

/// One named tree of checksummed records.
#[derive(Debug, Clone)]
pub struct Tree {
    name: String,
    tree: sled::Tree,
    quarantine: sled::Tree,
}

impl Tree {
    /// Moves a record that failed verification aside and reports it.
    fn set_aside(&self, key: &[u8], sealed: &[u8]) -> StoreError {
        let mut qkey = self.name.as_bytes().to_vec();
        qkey.push(0);
        qkey.extend_from_slice(key);
        let moved = self
            .quarantine
            .insert(qkey, sealed)
            .and_then(|_| self.tree.remove(key));
        tracing::error!(
            tree = %self.name,
            key = %String::from_utf8_lossy(key),
            moved = moved.is_ok(),
            "record failed its checksum; moved aside"
        );
        StoreError::Corrupt {
            tree: self.name.clone(),
            key: key.to_vec(),
        }
    }

    fn verify(&self, key: &[u8], sealed: sled::IVec) -> Result<Vec<u8>, StoreError> {
        match open_seal(&sealed) {
            Some(payload) => Ok(payload.to_vec()),
            None => Err(self.set_aside(key, &sealed)),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.tree.get(key)? {
            Some(sealed) => self.verify(key, sealed).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, seal(value))?;
        Ok(())
    }

    /// Stores `value` only if `key` is absent, atomically; says what it
    /// found. The basis of idempotent uploads.
    pub fn insert_new(&self, key: &[u8], value: &[u8]) -> Result<Inserted, StoreError> {
        let sealed = seal(value);
        match self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(sealed))?
        {
            Ok(()) => Ok(Inserted::New),
            Err(found) => {
                let current = match found.current {
                    Some(c) => self.verify(key, c)?,
                    None => Vec::new(),
                };
                Ok(if current == value {
                    Inserted::Same
                } else {
                    Inserted::Different(current)
                })
            }
        }
    }

    pub fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tree.remove(key)?.is_some())
    }

    /// Every verified record whose key starts with `prefix`, in key order.
    /// Records that fail verification are moved aside and reported through
    /// `on_corrupt`, not returned.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        mut on_corrupt: impl FnMut(StoreError),
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(prefix) {
            let (k, v) = entry?;
            match self.verify(&k, v) {
                Ok(payload) => out.push((k.to_vec(), payload)),
                Err(e) => on_corrupt(e),
            }
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    pub fn get_json<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.get(key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|source| StoreError::Decode {
                    tree: self.name.clone(),
                    key: key.to_vec(),
                    source,
                })
            })
            .transpose()
    }

    pub fn put_json<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            tree: self.name.clone(),
            source,
        })?;
        self.put(key, &bytes)
    }

    /// The raw sled tree, for tests that damage records on purpose.
    #[doc(hidden)]
    pub fn raw(&self) -> &sled::Tree {
        &self.tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("db"), StoreOptions::default()).expect("opens")
    }

    #[test]
    fn records_survive_a_reopen_after_flush() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let s = store(&dir);
            let t = s.tree("jobs").expect("tree");
            t.put(b"j1", b"hello").expect("put");
            t.put_json(b"j2", &vec![1, 2, 3]).expect("put");
            s.flush().expect("flush");
        }
        let s = store(&dir);
        let t = s.tree("jobs").expect("tree");
        assert_eq!(t.get(b"j1").expect("get"), Some(b"hello".to_vec()));
        assert_eq!(
            t.get_json::<Vec<u32>>(b"j2").expect("get"),
            Some(vec![1, 2, 3])
        );
        assert_eq!(t.get(b"absent").expect("get"), None);
    }

    #[test]
    fn a_damaged_record_is_moved_aside_and_reported_never_returned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = store(&dir);
        let t = s.tree("extracts").expect("tree");
        t.put(b"good", b"fine").expect("put");
        t.put(b"bad", b"payload").expect("put");
        // Flip one byte of the stored payload behind the checksum's back.
        let mut raw = t.raw().get(b"bad").expect("get").expect("present").to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 0x20;
        t.raw().insert(b"bad", raw).expect("insert");

        assert!(matches!(t.get(b"bad"), Err(StoreError::Corrupt { .. })));
        assert_eq!(
            t.get(b"bad").expect("now absent"),
            None,
            "moved out of the tree"
        );
        assert_eq!(
            s.quarantined().expect("list"),
            [("extracts".to_string(), b"bad".to_vec())]
        );
        assert_eq!(t.get(b"good").expect("get"), Some(b"fine".to_vec()));
    }

    #[test]
    fn scanning_skips_and_reports_damaged_records() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = store(&dir);
        let t = s.tree("buffer").expect("tree");
        for k in [b"a1", b"a2", b"a3"] {
            t.put(k, k).expect("put");
        }
        t.raw()
            .insert(b"a2", &b"\x01\x00\x00\x00\x00xx"[..])
            .expect("damage");
        let mut corrupt = Vec::new();
        let found = t
            .scan_prefix(b"a", |e| corrupt.push(e.to_string()))
            .expect("scan");
        let keys: Vec<_> = found.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, [b"a1".to_vec(), b"a3".to_vec()]);
        assert_eq!(corrupt.len(), 1);
        assert!(corrupt[0].contains("a2"), "{}", corrupt[0]);
    }

    #[test]
    fn insert_new_is_idempotent_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = store(&dir);
        let t = s.tree("results").expect("tree");
        assert_eq!(
            t.insert_new(b"job", b"hash-a").expect("insert"),
            Inserted::New
        );
        assert_eq!(
            t.insert_new(b"job", b"hash-a").expect("insert"),
            Inserted::Same
        );
        assert_eq!(
            t.insert_new(b"job", b"hash-b").expect("insert"),
            Inserted::Different(b"hash-a".to_vec())
        );
        assert_eq!(t.get(b"job").expect("get"), Some(b"hash-a".to_vec()));
    }

    #[test]
    fn a_folder_that_is_not_a_database_is_set_aside() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("buffer");
        std::fs::create_dir(&path).expect("mkdir");
        // sled keeps its configuration in `conf`; garbage there stops it.
        std::fs::write(path.join("conf"), b"\xff\xfe not a sled config").expect("write");
        std::fs::write(path.join("db"), b"garbage").expect("write");
        assert!(Store::open(&path, StoreOptions::default()).is_err());
        let (s, aside) =
            Store::open_or_set_aside(&path, StoreOptions::default()).expect("opens fresh");
        let aside = aside.expect("the damaged folder was moved");
        assert!(
            aside.join("db").exists(),
            "the damaged files are kept for inspection"
        );
        assert!(s.tree("x").expect("tree").is_empty());
    }
}
