//! The practice's files: through the host's read-only data source inside
//! the sandbox, or from a folder when the adapter runs natively.

use crate::bindings::gpes::plugin::data_source;
use std::fmt;
use std::io;
#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;

/// Largest chunk asked of the host at once.
const CHUNK: usize = 64 * 1024;

/// Why a file could not be listed, opened or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    NotFound(String),
    Io(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::NotFound(m) => write!(f, "not found: {m}"),
            SourceError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SourceError {}

impl From<data_source::SourceError> for SourceError {
    fn from(e: data_source::SourceError) -> SourceError {
        match e {
            data_source::SourceError::NotFound(m) => SourceError::NotFound(m),
            data_source::SourceError::Io(m) => SourceError::Io(m),
        }
    }
}

impl From<SourceError> for io::Error {
    fn from(e: SourceError) -> io::Error {
        match e {
            SourceError::NotFound(m) => io::Error::new(io::ErrorKind::NotFound, m),
            SourceError::Io(m) => io::Error::other(m),
        }
    }
}

/// Where the practice's files are. Names are plain file names in the
/// practice's root (no `/`, no `..`); inside the sandbox the host ends the
/// extraction on anything else.
#[derive(Debug, Clone)]
pub struct Source {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Host,
    // Natively only: inside the sandbox there is nothing else to read.
    #[cfg(not(target_arch = "wasm32"))]
    Folder(PathBuf),
}

impl Source {
    /// The host's data source: the only way a plugin reads anything.
    pub fn host() -> Source {
        Source { kind: Kind::Host }
    }

    /// A folder on this machine, for running an adapter natively (tests,
    /// benchmarks). Applies the host's naming rule, so an adapter that
    /// works here asks nothing the host refuses. Not in the component.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn folder(root: impl Into<PathBuf>) -> Source {
        Source {
            kind: Kind::Folder(root.into()),
        }
    }

    /// Names of the regular files in the practice's root, sorted.
    pub fn list(&self) -> Result<Vec<String>, SourceError> {
        match &self.kind {
            Kind::Host => data_source::list().map_err(SourceError::from),
            #[cfg(not(target_arch = "wasm32"))]
            Kind::Folder(root) => {
                let io = |e: io::Error| SourceError::Io(format!("{}: {e}", root.display()));
                let mut names = Vec::new();
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
        }
    }

    /// Opens one file for reading.
    pub fn open(&self, name: &str) -> Result<SourceFile, SourceError> {
        match &self.kind {
            Kind::Host => Ok(SourceFile {
                kind: FileKind::Host(data_source::open(name)?),
            }),
            #[cfg(not(target_arch = "wasm32"))]
            Kind::Folder(root) => {
                if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
                    return Err(SourceError::Io(format!(
                        "'{name}' is not a plain file name in the practice's root"
                    )));
                }
                let path = root.join(name);
                let meta = std::fs::symlink_metadata(&path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => SourceError::NotFound(name.to_owned()),
                    _ => SourceError::Io(format!("{name}: {e}")),
                })?;
                if !meta.is_file() {
                    return Err(SourceError::Io(format!("{name} is not a regular file")));
                }
                let file = std::fs::File::open(&path)
                    .map_err(|e| SourceError::Io(format!("{name}: {e}")))?;
                Ok(SourceFile {
                    kind: FileKind::Folder(file),
                })
            }
        }
    }
}

/// One open file: read it with `std::io::Read` (wrap it in a buffered or
/// CSV reader; it reads in chunks of up to 64 KiB).
#[derive(Debug)]
pub struct SourceFile {
    kind: FileKind,
}

#[derive(Debug)]
enum FileKind {
    Host(data_source::File),
    #[cfg(not(target_arch = "wasm32"))]
    Folder(std::fs::File),
}

impl io::Read for SourceFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            FileKind::Host(file) => {
                let want = buf.len().min(CHUNK) as u32;
                let chunk = file.read(want).map_err(SourceError::from)?;
                if chunk.len() > buf.len() {
                    return Err(io::Error::other("the host returned more bytes than asked"));
                }
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            #[cfg(not(target_arch = "wasm32"))]
            FileKind::Folder(file) => file.read(buf),
        }
    }
}
