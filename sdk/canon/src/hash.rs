//! `ContentHash`: a SHA-256 digest written `sha256:<64 lowercase hex>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::CanonError;

const PREFIX: &str = "sha256:";

/// A SHA-256 digest, written and serialized as `sha256:` followed by 64
/// lowercase hexadecimal digits.
///
/// [`content_hash`](crate::content_hash) makes one from the canonical JSON of
/// a value; [`ContentHash::of_bytes`] from any bytes. Parsing accepts only
/// the exact written form (lowercase), so each hash has one spelling and two
/// hashes are equal exactly when their strings are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The SHA-256 of `bytes`, taken as they are.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// A hash from a SHA-256 digest computed elsewhere.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        ContentHash(digest)
    }

    /// The 32 bytes of the digest.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

impl FromStr for ContentHash {
    type Err = CanonError;

    fn from_str(s: &str) -> Result<Self, CanonError> {
        let invalid = |reason| CanonError::InvalidContentHash {
            input: s.chars().take(100).collect(),
            reason,
        };
        let hex_part = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| invalid("it does not start with \"sha256:\""))?;
        if hex_part.len() != 64 {
            return Err(invalid("the digest is not 64 characters long"));
        }
        if !hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(
                "the digest has a character other than 0-9 and a-f (uppercase is refused)",
            ));
        }
        let mut digest = [0; 32];
        hex::decode_to_slice(hex_part, &mut digest)
            .map_err(|_| invalid("the digest is not hexadecimal"))?;
        Ok(ContentHash(digest))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ContentHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a content hash: \"sha256:\" followed by 64 lowercase hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ContentHash, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}
