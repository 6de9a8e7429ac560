//! Small helpers shared by the modules: randomness, hashing, PEM, private
//! files and the clock.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::error::{PkiError, Result};

/// `n` bytes from the operating system's random number generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    Ok(bytes)
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Equality of two digests in time independent of where they differ.
pub(crate) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses 64 hex digits (either case) into a SHA-256 digest.
pub(crate) fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// PEM-encodes `der` with the given label, 64 columns, LF line ends.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// All `CERTIFICATE` sections of a PEM text, at least one.
pub(crate) fn certs_from_pem(
    what: &'static str,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PkiError::Pem {
            what,
            reason: "no `BEGIN CERTIFICATE` section".into(),
        });
    }
    Ok(certs)
}

/// Exactly one `CERTIFICATE` section of a PEM text.
pub(crate) fn one_cert_from_pem(what: &'static str, pem: &str) -> Result<CertificateDer<'static>> {
    let mut certs = certs_from_pem(what, pem)?;
    if certs.len() != 1 {
        return Err(PkiError::Pem {
            what,
            reason: format!("expected one certificate, found {}", certs.len()),
        });
    }
    Ok(certs.remove(0))
}

/// The SHA-256 of a certificate's SubjectPublicKeyInfo (DER).
pub(crate) fn cert_spki_sha256(what: &'static str, der: &[u8]) -> Result<[u8; 32]> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Certificate {
            what,
            reason: e.to_string(),
        })?;
    Ok(sha256(cert.public_key().raw))
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Creates `dir` (and its parents) if missing; a directory this crate
/// creates is readable by its owner only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(PkiError::io("create the directory", dir))
}

/// Writes `contents` to `path`, replacing it atomically: the bytes go to a
/// temporary file in the same directory, created with mode 0600 from the
/// start (never wider, not even briefly), flushed to disk, then renamed.
pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| PkiError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        })?
        .to_string_lossy();
    let suffix = hex::encode(random_bytes::<6>()?);
    let tmp: PathBuf = dir.join(format!(".{file_name}.{suffix}.tmp"));

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp).map_err(PkiError::io("create", &tmp))?;
        file.write_all(contents)
            .map_err(PkiError::io("write", &tmp))?;
        file.sync_all().map_err(PkiError::io("flush", &tmp))?;
        fs::rename(&tmp, path).map_err(PkiError::io("rename into place", path))?;
        // Make the rename itself durable.
        #[cfg(unix)]
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(PkiError::io("flush the directory", dir))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a private key file, refusing one that other users can read.
pub(crate) fn read_private_file(path: &Path) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(PkiError::io("read", path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(PkiError::KeyFilePermissions {
                path: path.to_path_buf(),
                mode: mode & 0o7777,
            });
        }
    }
    fs::read_to_string(path).map_err(PkiError::io("read", path))
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(PkiError::io("read", path))
}
