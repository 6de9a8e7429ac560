//! The read-only data source a plugin sees: the regular files directly in
//! one practice's root, opened without following links, hashed as they are
//! handed over.

use crate::error::AccessDenied;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Largest chunk handed over in one `read`.
pub const MAX_CHUNK: usize = 1 << 20;

/// One file the plugin opened: its name, size and the SHA-256 of the whole
/// file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    pub name: String,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// Why a data-source call failed, as the plugin sees it.
pub enum SourceFailure {
    /// Refused outright: the extraction ends.
    Denied(AccessDenied),
    NotFound(String),
    Io(String),
}

struct OpenFile {
    name: String,
    file: File,
    hasher: Sha256,
    bytes: u64,
    at_end: bool,
}

/// The practice's data, as one extraction sees it.
pub struct DataSource {
    /// None for calls that read no data (`describe`).
    root: Option<PathBuf>,
    next_id: u32,
    open: HashMap<u32, OpenFile>,
    fingerprint: BTreeMap<String, FileFingerprint>,
    /// Set when a file hashed differently on a second opening.
    pub changed: Option<String>,
}

/// Checks that `name` is a plain file name: not empty, no separators, not
/// `.` or `..`, no NUL.
pub fn check_name(name: &str) -> Result<(), AccessDenied> {
    let deny = |reason| {
        Err(AccessDenied {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return deny("the name is empty");
    }
    if name.starts_with('/') {
        return deny("absolute paths are refused");
    }
    if name == "." || name == ".." || name.split(['/', '\\']).any(|part| part == "..") {
        return deny("'..' is refused");
    }
    if name.contains(['/', '\\']) {
        return deny("names are plain file names, without folders");
    }
    if name.contains('\0') {
        return deny("the name contains a NUL byte");
    }
    Ok(())
}

impl DataSource {
    pub fn new(root: &Path) -> io::Result<DataSource> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(DataSource {
            root: Some(root),
            next_id: 0,
            open: HashMap::new(),
            fingerprint: BTreeMap::new(),
            changed: None,
        })
    }

    /// A data source with no files at all.
    pub fn empty() -> DataSource {
        DataSource {
            root: None,
            next_id: 0,
            open: HashMap::new(),
            fingerprint: BTreeMap::new(),
            changed: None,
        }
    }

    /// Regular files directly in the root, sorted by name. Links, folders
    /// and names that are not UTF-8 are not listed.
    pub fn list(&self) -> Result<Vec<String>, SourceFailure> {
        let io =
            |e: io::Error| SourceFailure::Io(format!("could not list the practice's files: {e}"));
        let mut names = Vec::new();
        let Some(root) = &self.root else {
            return Ok(names);
        };
        for entry in std::fs::read_dir(root).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_type().map_err(io)?.is_file()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    pub fn open(&mut self, name: &str) -> Result<u32, SourceFailure> {
        check_name(name).map_err(SourceFailure::Denied)?;
        let Some(root) = &self.root else {
            return Err(SourceFailure::NotFound(format!("{name} does not exist")));
        };
        let path = root.join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => SourceFailure::Denied(AccessDenied {
                    name: name.to_owned(),
                    reason: "it is a symbolic link, and links are refused",
                }),
                _ if e.kind() == io::ErrorKind::NotFound => {
                    SourceFailure::NotFound(format!("{name} does not exist"))
                }
                _ => SourceFailure::Io(format!("{name} could not be opened: {e}")),
            })?;
        let meta = file
            .metadata()
            .map_err(|e| SourceFailure::Io(format!("{name} could not be opened: {e}")))?;
        if !meta.is_file() {
            return Err(SourceFailure::NotFound(format!(
                "{name} is not a regular file"
            )));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.open.insert(
            id,
            OpenFile {
                name: name.to_owned(),
                file,
                hasher: Sha256::new(),
                bytes: 0,
                at_end: false,
            },
        );
        Ok(id)
    }

    pub fn read(&mut self, id: u32, max: u32) -> Result<Vec<u8>, SourceFailure> {
        let f = self
            .open
            .get_mut(&id)
            .ok_or_else(|| SourceFailure::Io("the file is closed".into()))?;
        let want = (max as usize).min(MAX_CHUNK);
        let mut buf = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match f.file.read(&mut buf[filled..]) {
                Ok(0) => {
                    f.at_end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(SourceFailure::Io(format!(
                        "{} could not be read: {e}",
                        f.name
                    )));
                }
            }
        }
        buf.truncate(filled);
        f.hasher.update(&buf);
        f.bytes += filled as u64;
        Ok(buf)
    }

    /// Closes a file, hashing whatever the plugin did not read, and records
    /// its fingerprint.
    pub fn close(&mut self, id: u32) {
        if let Some(f) = self.open.remove(&id) {
            self.record(f);
        }
    }

    fn record(&mut self, mut f: OpenFile) {
        if !f.at_end {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match f.file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        f.hasher.update(&buf[..n]);
                        f.bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        // The rest cannot be hashed: treat as changed.
                        self.changed.get_or_insert(f.name.clone());
                        return;
                    }
                }
            }
        }
        let entry = FileFingerprint {
            name: f.name.clone(),
            bytes: f.bytes,
            sha256: hex::encode(f.hasher.finalize()),
        };
        match self.fingerprint.get(&f.name) {
            Some(earlier) if *earlier != entry => {
                self.changed.get_or_insert(f.name);
            }
            Some(_) => {}
            None => {
                self.fingerprint.insert(f.name, entry);
            }
        }
    }

    /// Closes every file still open and returns the fingerprint, sorted by
    /// name.
    pub fn finish(&mut self) -> Vec<FileFingerprint> {
        let ids: Vec<u32> = self.open.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        std::mem::take(&mut self.fingerprint)
            .into_values()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_outside_the_root_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "..\\x",
            "a\0b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in [
            "patients.csv",
            "Patient.000.ndjson",
            "..hidden-but-plain",
            "a..b",
        ] {
            assert!(check_name(good).is_ok(), "{good:?} should be allowed");
        }
    }
}
