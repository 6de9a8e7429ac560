//! The on-disk cache of compiled plugins: compiling a component with
//! Cranelift takes seconds (tens of seconds for the 18 MB Python one), and
//! loading the code compiled last time takes milliseconds.
//!
//! An entry is keyed by the SHA-256 of the wasm and by wasmtime's own hash
//! of every engine setting that changes compiled code
//! ([`Engine::precompile_compatibility_hash`]: target and CPU features,
//! Cranelift flags, the tunables (epoch interruption and fuel among them),
//! the enabled wasm features (the component model among them), and the
//! wasmtime version). One file per entry, `<key>.cwasm`:
//!
//! ```text
//! magic (16 bytes) | key (32) | SHA-256 of the code (32) | code length (u64 LE) | code
//! ```
//!
//! Loading precompiled code is `unsafe` in wasmtime: it is machine code that
//! wasmtime trusts to be its own output. So an entry is used only if all of
//! these hold, and is otherwise deleted (with a log line) and compiled
//! again:
//!
//! - the folder is ours and nobody else's: created with mode 0700, refused
//!   when owned by another user, repaired when group or world can get in;
//! - the file is a regular file (not followed through a symbolic link),
//!   owned by us, writable by nobody else;
//! - it names the key it is looked up by, has the length it says, and its
//!   code hashes to the SHA-256 beside it: a truncated, half-written or
//!   damaged entry is caught here, where wasmtime's own checks would not
//!   (they read the header and the engine settings, not every byte of the
//!   machine code);
//! - the bytes hashed are the bytes loaded: the file is read into memory
//!   once, so it cannot change between the check and the load.
//!
//! The hash is a check against damage, not a signature: anyone who can
//! write the file can write a matching hash. That is why the folder and the
//! files must be ours alone; a process running as our user (or root) could
//! as well change the program itself.
//!
//! Entries are written to a temporary file in the same folder and renamed
//! into place, so a reader sees a whole entry or none. Nothing is ever
//! evicted: each plugin build takes one entry (about twice the
//! wasm's size); delete the folder to reclaim the space.

use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// First bytes of every entry; a new layout takes a new magic.
const MAGIC: &[u8; 16] = b"gpes-cwasm-v1\0\0\0";
const HEADER: usize = 16 + 32 + 32 + 8;

/// A folder of compiled plugins, checked to be ours alone. Share one
/// between hosts freely; entries are keyed by engine settings.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    uid: u32,
}

/// A cache folder that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("could not create or inspect the compile cache folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the compile cache {path} is not a folder (a symbolic link or a file is refused)")]
    NotAFolder { path: PathBuf },
    #[error(
        "the compile cache folder {path} belongs to user {owner}, not to this user ({us}); compiled code found there cannot be trusted: choose another folder"
    )]
    NotOwned { path: PathBuf, owner: u32, us: u32 },
}

/// How a plugin's compiled code was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compiled {
    /// Compiled now; the host has no cache.
    Uncached,
    /// Loaded from the cache: nothing was compiled.
    FromCache,
    /// Compiled now and stored in the cache. `replaced` says why an entry
    /// already there was discarded (damaged, not ours, stale).
    Stored { replaced: Option<String> },
    /// Compiled now, but the entry could not be written (the plugin is
    /// usable; the next load compiles again).
    NotStored { reason: String },
}

impl CompileCache {
    /// Opens the cache folder `dir`, creating it (and any missing parents)
    /// with mode 0700. An existing folder of ours that group or world can
    /// enter is made 0700 again; one owned by another user, or a symbolic
    /// link, is refused.
    pub fn open(dir: impl Into<PathBuf>) -> Result<CompileCache, CacheError> {
        let dir = dir.into();
        let io = |source| CacheError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io)?;
        let meta = std::fs::symlink_metadata(&dir).map_err(io)?;
        if !meta.is_dir() {
            return Err(CacheError::NotAFolder { path: dir });
        }
        let uid = rustix::process::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(CacheError::NotOwned {
                path: dir,
                owner: meta.uid(),
                us: uid,
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                message = "compile cache folder was open to others; made 0700",
                path = %dir.display(),
                mode = format!("{mode:o}"),
            );
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        Ok(CompileCache { dir, uid })
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hex::encode(key)))
    }

    /// The component for `wasm`: from the cache when a sound entry is
    /// there, else compiled and stored.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, Compiled)> {
        let key = key(engine, wasm);
        let path = self.path(&key);
        let replaced = match self.read(&path, &key) {
            Ok(None) => None,
            Ok(Some(code)) => match deserialize(engine, code) {
                Ok(component) => return Ok((component, Compiled::FromCache)),
                Err(e) => Some(format!("wasmtime refused it: {e:#}")),
            },
            Err(why) => Some(why),
        };
        if let Some(why) = &replaced {
            tracing::warn!(
                message = "discarding a compile cache entry; compiling again",
                path = %path.display(),
                reason = %why,
            );
            let _ = std::fs::remove_file(&path);
        }
        let component = Component::new(engine, wasm)?;
        let compiled = match component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|code| self.write(&path, &key, &code).map_err(|e| e.to_string()))
        {
            Ok(()) => Compiled::Stored { replaced },
            Err(reason) => {
                tracing::warn!(
                    message = "could not store a compiled plugin in the cache",
                    path = %path.display(),
                    %reason,
                );
                Compiled::NotStored { reason }
            }
        };
        Ok((component, compiled))
    }

    /// The verified code of the entry at `path`: `Ok(None)` when there is
    /// none, `Err(why)` when there is one that must not be used.
    fn read(&self, path: &Path, key: &[u8; 32]) -> Result<Option<Verified>, String> {
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("could not open it: {e}")),
        };
        let meta = file
            .metadata()
            .map_err(|e| format!("could not inspect it: {e}"))?;
        if !meta.is_file() {
            return Err("it is not a regular file".into());
        }
        if meta.uid() != self.uid {
            return Err(format!("it belongs to user {}, not to us", meta.uid()));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err("others may write to it".into());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("could not read it: {e}"))?;
        verify(bytes, key).map(Some)
    }

    /// Writes an entry atomically: a temporary file of ours, flushed, then
    /// renamed over the entry.
    fn write(&self, path: &Path, key: &[u8; 32], code: &[u8]) -> std::io::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            hex::encode(&key[..8]),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&temp)?;
            file.write_all(&header(key, code))?;
            file.write_all(code)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, path)?;
            // Make the rename itself durable; a failure here leaves a
            // whole entry or none, so it is not an error.
            if let Ok(dir) = File::open(&self.dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

fn header(key: &[u8; 32], code: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..16].copy_from_slice(MAGIC);
    h[16..48].copy_from_slice(key);
    h[48..80].copy_from_slice(&Sha256::digest(code));
    h[80..].copy_from_slice(&(code.len() as u64).to_le_bytes());
    h
}

/// Code that was read from an entry of ours and matched its key, length and
/// SHA-256. Only [`verify`] makes one.
struct Verified {
    entry: Vec<u8>,
}

impl Verified {
    fn code(&self) -> &[u8] {
        &self.entry[HEADER..]
    }
}

fn verify(entry: Vec<u8>, key: &[u8; 32]) -> Result<Verified, String> {
    if entry.len() < HEADER || entry[..16] != MAGIC[..] {
        return Err("it is not a cache entry of this version (bad header)".into());
    }
    if entry[16..48] != key[..] {
        return Err("it is the entry of another plugin or engine".into());
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&entry[80..HEADER]);
    let length = u64::from_le_bytes(length);
    if (entry.len() - HEADER) as u64 != length {
        return Err(format!(
            "it is truncated or too long ({} bytes of code, {length} expected)",
            entry.len() - HEADER
        ));
    }
    if Sha256::digest(&entry[HEADER..])[..] != entry[48..80] {
        return Err("its code does not match its SHA-256 (damaged)".into());
    }
    Ok(Verified { entry })
}

/// Loads verified precompiled code: the one `unsafe` call in the host.
///
/// Sound because wasmtime's requirement, that the bytes be its own output
/// for an engine like this one, holds: a [`Verified`] is only made from a
/// file owned by us, writable by nobody else, in a folder only we can
/// enter, that we wrote with [`Component::serialize`] under this key (which
/// includes the engine's compatibility hash, itself checked again by
/// wasmtime), and whose every byte matched the SHA-256 written beside it;
/// the bytes checked are in our memory, so they are the bytes loaded.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, code: Verified) -> wasmtime::Result<Component> {
    // SAFETY: see above: `code` is verified output of `Component::serialize`.
    unsafe { Component::deserialize(engine, code.code()) }
}

/// The entry's key: SHA-256 over a domain tag, the engine's compatibility
/// hash and the wasm's SHA-256.
fn key(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    let mut h = Sha256Hasher(Sha256::new());
    h.0.update(b"gpes-compile-cache-key-v1\0");
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update(Sha256::digest(wasm));
    h.0.finalize().into()
}

/// A `std::hash::Hasher` that feeds SHA-256, so that the engine's hash is
/// the same in every process (std's `DefaultHasher` promises no such
/// thing across releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &[u8]) -> (Vec<u8>, [u8; 32]) {
        let key = [7u8; 32];
        let mut e = header(&key, code).to_vec();
        e.extend_from_slice(code);
        (e, key)
    }

    #[test]
    fn a_whole_entry_verifies() {
        let (e, key) = entry(b"some code");
        assert_eq!(verify(e, &key).expect("verifies").code(), b"some code");
    }

    #[test]
    fn every_damage_is_caught() {
        let (e, key) = entry(b"some code");
        let flipped = |i: usize| {
            let mut e = e.clone();
            e[i] ^= 1;
            e
        };
        // A byte of the magic, the key, the hash, the length, the code.
        for i in [0, 20, 50, 80, HEADER + 3] {
            assert!(verify(flipped(i), &key).is_err(), "byte {i}");
        }
        for len in [0, 10, HEADER, e.len() - 1] {
            assert!(
                verify(e[..len].to_vec(), &key).is_err(),
                "truncated to {len}"
            );
        }
        let mut longer = e.clone();
        longer.push(0);
        assert!(verify(longer, &key).is_err());
        assert!(verify(e, &[8u8; 32]).is_err(), "another key");
    }
}
