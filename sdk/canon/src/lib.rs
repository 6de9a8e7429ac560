//! RFC 8785 canonical JSON (the JSON Canonicalization Scheme) and the
//! content hashes taken over it.
//!
//! Queries and sealed extracts are identified by the SHA-256 of their
//! canonical JSON, so the same value always hashes the same, whatever the
//! key order, whitespace or number spelling it arrived with. This crate is
//! only the pure functions for that: it turns a `Serialize` value or a JSON
//! text into canonical bytes ([`to_canonical_vec`], [`canonicalize_json`])
//! and hashes them ([`content_hash`], [`ContentHash`]). It does no I/O, keeps
//! no state, and does not decide *what* is hashed: which fields of a query
//! or an extract are covered, and how hashes are stored or compared, belong
//! to the crates that use it.
//!
//! # The canonical form
//!
//! As RFC 8785 prescribes: no whitespace; object members sorted by name,
//! names compared as arrays of UTF-16 code units; strings escaped as
//! ECMAScript `JSON.stringify` escapes them (only `"`, `\` and the control
//! characters below U+0020, the latter as `\b \t \n \f \r` or `\u00xx`;
//! everything else, U+2028 and U+2029 included, as literal UTF-8); numbers
//! written as ECMAScript `Number.prototype.toString` writes the IEEE-754
//! double, with `-0` as `0`.
//!
//! # What is refused
//!
//! Rather than produce a hash that silently differs from what the data
//! said, these functions refuse, with a [`CanonError`] naming the JSON path:
//!
//! - **Integers an IEEE-754 double cannot hold.** JSON numbers are doubles
//!   under RFC 8785, and doubles hold every integer only up to 2^53
//!   ([`MAX_EXACT_INTEGER`]). A Rust integer (any of `i8`..`i128`,
//!   `u8`..`u128`) beyond 2^53 in magnitude is refused, whatever its value:
//!   an 18-digit SNOMED CT code must be carried as a string. In JSON text,
//!   where the producer's type is unknown, an integer literal (no fraction,
//!   no exponent) beyond 2^53 is refused unless it is exactly a double or is
//!   already written in canonical form, so digits are never changed
//!   silently and canonical output can always be read back. Literals with a
//!   fraction or an exponent are floats, rounded to the nearest double as
//!   the RFC requires (`333333333.33333329` becomes `333333333.3333333`).
//!   One corner follows: a double of 2^53 or more below 1e21 is written as
//!   integer digits (`1.2345678901234568e17` as `123456789012345680`);
//!   [`canonicalize_json`] reads that back, but a `serde_json::Value` parsed
//!   from it holds a `u64`, which [`to_canonical_vec`] refuses.
//! - **NaN and infinities**, and literals too large for a double (`1e400`).
//! - **Duplicate member names**, in JSON text or from a `Serialize`
//!   implementation (a `#[serde(flatten)]` clash, say).
//! - **Nesting deeper than [`MAX_DEPTH`]** arrays and objects, checked
//!   before recursing, so hostile input cannot overflow the stack.
//! - **JSON text longer than [`MAX_INPUT_BYTES`]**, and anything that is not
//!   one RFC 8259 JSON text in UTF-8: no byte order mark, no lone UTF-16
//!   surrogates in `\u` escapes, no trailing data.
//!
//! # Serializing Rust values
//!
//! [`to_canonical_vec`] follows serde_json's mapping of the serde data
//! model: `None` and `()` as `null`, enums externally tagged, byte slices as
//! arrays of numbers, map keys that are integers, chars, bools or unit
//! variants written as strings (other keys are refused). It does not go
//! through `serde_json::Value`, so integers are checked before they could
//! become doubles and non-finite floats are refused rather than turned into
//! `null`. A `serde_json::Value` serializes as the JSON it holds, also when
//! serde_json's `arbitrary_precision` or `raw_value` features are enabled by
//! another crate in the build (their literals are read as JSON text is).
//! `f32` values are widened to `f64` exactly, so `0.1f32` is written
//! `0.10000000149011612`, as ECMAScript would.

mod emit;
mod error;
mod hash;
mod parse;
mod ser;

use serde::Serialize;

pub use error::CanonError;
pub use hash::ContentHash;

/// The longest JSON text [`canonicalize_json`] accepts: 64 MiB.
///
/// Canonicalization holds the output (no longer than the input, apart from
/// number spellings such as `1e20`) and a copy of any object it reorders,
/// so memory use stays a small multiple of this. [`to_canonical_vec`] has
/// no such limit, since the value is already in memory.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// The deepest nesting of arrays and objects accepted: 128 levels, counting
/// the outermost array or object as 1 (and, for a Rust value, the
/// `{"Variant": ...}` wrapper of an enum variant with data as one more).
pub const MAX_DEPTH: usize = 128;

/// 2^53 (9007199254740992): integers up to this magnitude are exact as
/// IEEE-754 doubles, and so as RFC 8785 numbers; larger ones are refused.
pub const MAX_EXACT_INTEGER: u64 = emit::EXACT_LIMIT;

/// The canonical JSON of `value`, as UTF-8 bytes.
///
/// # Errors
///
/// Refuses, naming the JSON path, integers beyond 2^53 in magnitude, NaN and
/// infinities, duplicate member names, map keys that cannot be strings,
/// nesting deeper than [`MAX_DEPTH`], and errors from the value's own
/// `Serialize` implementation.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonError> {
    let mut st = emit::State::default();
    ser::serialize_into(value, &mut st).map_err(error::Fail::into_error)?;
    Ok(st.out)
}

/// The canonical JSON of `value`, as a string.
///
/// # Errors
///
/// As [`to_canonical_vec`].
pub fn to_canonical_string<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonError> {
    let bytes = to_canonical_vec(value)?;
    // Everything written is either copied from a `str` or ASCII.
    Ok(String::from_utf8(bytes).expect("canonical JSON is UTF-8"))
}

/// Reads one JSON text and returns its canonical form.
///
/// Canonical input comes back unchanged, so `canonicalize_json` of any
/// output of this crate (no longer than [`MAX_INPUT_BYTES`]) is the
/// identity.
///
/// # Errors
///
/// Refuses input longer than [`MAX_INPUT_BYTES`]; input that is not one
/// RFC 8259 JSON text in UTF-8 (the message gives line, column and byte
/// offset); duplicate member names; nesting deeper than [`MAX_DEPTH`];
/// integer literals beyond 2^53 that a double cannot hold; and literals
/// beyond the range of a double.
pub fn canonicalize_json(bytes: &[u8]) -> Result<Vec<u8>, CanonError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(CanonError::TooLarge {
            len: bytes.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let mut st = emit::State::default();
    st.out.reserve(bytes.len());
    parse::parse_into(bytes, &mut st).map_err(error::Fail::into_error)?;
    Ok(st.out)
}

/// The [`ContentHash`] of `value`: the SHA-256 of its canonical JSON.
///
/// # Errors
///
/// As [`to_canonical_vec`].
pub fn content_hash<T: Serialize + ?Sized>(value: &T) -> Result<ContentHash, CanonError> {
    Ok(ContentHash::of_bytes(&to_canonical_vec(value)?))
}
