//! What can go wrong with keys, manifest files and verification.

use std::path::PathBuf;

/// A key that could not be made, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("could not read the key file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("could not write the key file {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path} already exists; a key file is never overwritten: choose another folder, or remove it yourself if you are sure it is not in use"
    )]
    Exists { path: PathBuf },
    #[error(
        "{path} is not a gpes plugin-signing private key: {reason}; use a key made by `gpes-plugin keygen` (or an ed25519 PKCS#8 PEM file)"
    )]
    InvalidPrivateKey { path: PathBuf, reason: String },
    #[error(
        "not a gpes public key: {reason}; expected one line `gpes-ed25519:<base64 of 32 bytes>`, as `gpes-plugin keygen` prints"
    )]
    InvalidPublicKey { reason: String },
    #[error("{path}: {error}")]
    InPublicKeyFile { path: PathBuf, error: Box<KeyError> },
    #[error("could not generate a key: the system's random source failed")]
    Generate,
    #[error("the supplier name must be one line of visible text, not empty")]
    BadSupplier,
}

/// A signed-manifest file that could not be read, written or understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error(
        "could not read the plugin's signed manifest {path}: {error}; a site runs only signed plugins: ask the supplier for the plugin's .sig.json file"
    )]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("could not write the signed manifest {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{what} is not a valid signed plugin manifest: {reason}")]
    Invalid { what: String, reason: String },
    #[error("the manifest cannot be signed: {0}")]
    Canonical(String),
}

/// Why a plugin failed verification against a trust list. Every variant
/// means: do not run this plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No key at all is trusted for the supplier the manifest names.
    #[error(
        "the plugin is signed as supplier '{supplier}', and this site trusts no key for that supplier; add the supplier's public key to the trusted suppliers if you mean to run its plugins"
    )]
    UntrustedSupplier { supplier: String },
    /// The signing key is not one of the keys trusted for that supplier.
    #[error("the plugin's manifest is signed with key {key_id}, which this site does not trust for supplier '{supplier}'{}; check the plugin came from that supplier, and add its current public key if it has a new one", trusted_elsewhere(.trusted_for))]
    UntrustedKey {
        supplier: String,
        key_id: String,
        /// Suppliers for which that key *is* trusted, if any.
        trusted_for: Vec<String>,
    },
    /// The signature does not verify: the manifest or the signature was
    /// altered after signing.
    #[error(
        "the manifest's signature does not verify under key {key_id}: the manifest or its signature was changed after signing; get the plugin and its manifest again from the supplier"
    )]
    BadSignature { key_id: String },
    /// The wasm bytes are not the ones the manifest was made for.
    #[error(
        "the plugin's SHA-256 is {actual}, but its signed manifest says {expected}: the .wasm file is not the one the supplier signed; get it again from the supplier"
    )]
    HashMismatch { expected: String, actual: String },
    /// The signature field itself cannot be a signature.
    #[error("the manifest's signature is malformed: {0}")]
    Malformed(String),
}

fn trusted_elsewhere(suppliers: &[String]) -> String {
    if suppliers.is_empty() {
        String::new()
    } else {
        format!(
            " (it is trusted for {})",
            suppliers
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
