//! `std::io::Read` over a file handed out by the host's data source.

use crate::bindings::gpes::plugin::data_source::{File, SourceError};
use std::io;

/// Largest chunk asked of the host at once.
const CHUNK: usize = 64 * 1024;

pub struct HostFile {
    file: File,
}

impl HostFile {
    pub fn new(file: File) -> HostFile {
        HostFile { file }
    }
}

impl io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(CHUNK) as u32;
        let chunk = self.file.read(want).map_err(|e| match e {
            SourceError::NotFound(m) => io::Error::new(io::ErrorKind::NotFound, m),
            SourceError::Io(m) => io::Error::other(m),
        })?;
        if chunk.len() > buf.len() {
            return Err(io::Error::other("host returned more bytes than asked"));
        }
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }
}
