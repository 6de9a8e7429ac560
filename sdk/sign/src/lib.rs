//! Supplier signatures on plugins. A supplier signs a **manifest** of its
//! plugin (name, version, supplier, data-model version and the SHA-256 of
//! the `.wasm` file) with its ed25519 key; the signed manifest travels
//! beside the plugin as JSON (by convention `PLUGIN.wasm.sig.json`). A site
//! holds a [`TrustList`] (supplier name → public keys) and accepts a plugin
//! only if its manifest is signed by a key trusted *for the supplier the
//! manifest names* and the wasm bytes hash to what the manifest says
//! ([`SignedManifest::verify`]).
//!
//! The signature covers `gpes-plugin-manifest-v1\n` followed by the RFC 8785
//! canonical JSON of the manifest (`gpes-canon`), so it does not depend on
//! how the file is laid out, and cannot be replayed as a signature of
//! anything else. Keys: the private key is a PKCS#8 document in a PEM file
//! written with mode 0600 (never overwritten); the public key is one line,
//! `gpes-ed25519:<base64 of the 32 key bytes>`; a key id is the first 16 hex
//! digits of the SHA-256 of the key bytes.
//!
//! This crate is the pure signing and checking, plus reading and writing
//! key and manifest files. It does not compile or run plugins: checking
//! that a plugin's own `describe` agrees with its manifest is `gpes-host`'s
//! job (`Host::load_signed`), and deciding which suppliers a site trusts is
//! the agent's configuration.

mod error;
mod key;
mod manifest;
mod trust;

pub use error::{KeyError, ManifestError, VerifyError};
pub use key::{KeyFiles, KeyId, PublicKey, SigningKey, read_public_key_file};
pub use manifest::{
    FORMAT, Manifest, SIGNATURE_CONTEXT, SignedManifest, default_manifest_path, wasm_sha256,
};
pub use trust::TrustList;

/// The prefix of a public key line.
pub const PUBLIC_KEY_PREFIX: &str = "gpes-ed25519:";
