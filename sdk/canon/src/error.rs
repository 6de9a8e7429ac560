//! The public error type, and the internal failure that collects its JSON
//! path while the recursion unwinds.

use std::fmt;

use crate::MAX_DEPTH;

/// Why a value or a JSON text could not be canonicalized, or a content hash
/// could not be read.
///
/// Every message says what was wrong, where (a JSON path such as
/// `$.clusters[3].codes[12]`, `$` being the whole document) and what to do
/// about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonError {
    /// The JSON text handed to [`canonicalize_json`](crate::canonicalize_json)
    /// is longer than [`MAX_INPUT_BYTES`](crate::MAX_INPUT_BYTES).
    #[error(
        "JSON input is {len} bytes, over the limit of {limit} bytes; \
         split the document into parts and hash them separately"
    )]
    TooLarge {
        /// Length of the input, in bytes.
        len: usize,
        /// The limit it exceeded.
        limit: usize,
    },

    /// The JSON text is not one well-formed RFC 8259 JSON text in UTF-8.
    #[error(
        "malformed JSON at line {line}, column {column} (byte offset {offset}), \
         in the value at {path}: {message}"
    )]
    Syntax {
        /// JSON path of the innermost value being read when the error was
        /// found.
        path: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
        /// 0-based byte offset into the input.
        offset: usize,
        /// What was wrong.
        message: String,
    },

    /// Arrays and objects are nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error(
        "the array or object at {path} is nested deeper than the limit of {limit} \
         levels of arrays and objects; flatten the structure"
    )]
    TooDeep {
        /// JSON path of the first array or object beyond the limit.
        path: String,
        /// The limit.
        limit: usize,
    },

    /// An object has two members with the same name.
    #[error(
        "the object at {path} has more than one member named {}; RFC 8785 (I-JSON) \
         requires member names to be unique, so remove or rename the duplicates",
        quote(key)
    )]
    DuplicateKey {
        /// JSON path of the object.
        path: String,
        /// The repeated member name.
        key: String,
    },

    /// An integer that an IEEE-754 double cannot hold exactly.
    #[error(
        "the integer {value} at {path} cannot be carried exactly as a JSON number: \
         RFC 8785 numbers are IEEE-754 doubles, which hold integers exactly only up \
         to 2^53 (9007199254740992) in magnitude, and this one would become {nearest}; \
         carry identifiers such as SNOMED CT codes, and any other integer that may \
         exceed 2^53, as JSON strings"
    )]
    UnsafeInteger {
        /// JSON path of the number.
        path: String,
        /// The integer, in decimal.
        value: String,
        /// What it would have been rounded to, in canonical form.
        nearest: String,
    },

    /// A number literal in JSON text beyond the range of an IEEE-754 double.
    #[error(
        "the number {value} at {path} is beyond the range of an IEEE-754 double \
         (about 1.8e308 in magnitude); carry it as a JSON string"
    )]
    NumberOutOfRange {
        /// JSON path of the number.
        path: String,
        /// The literal as written.
        value: String,
    },

    /// A NaN or infinite float.
    #[error(
        "the number at {path} is {value}, which JSON cannot represent; \
         use a finite number, null, or a string"
    )]
    NonFiniteNumber {
        /// JSON path of the number.
        path: String,
        /// `NaN`, `inf` or `-inf`.
        value: String,
    },

    /// A map key that does not serialize as a string (or an integer, a char
    /// or a bool, which are written as strings).
    #[error(
        "a key of the map at {path} is {kind}, but JSON object member names must be \
         strings; use string, integer, char, bool or unit-variant keys"
    )]
    KeyNotString {
        /// JSON path of the map.
        path: String,
        /// What the key was.
        kind: &'static str,
    },

    /// A `Serialize` implementation reported an error of its own.
    #[error("serializing the value at {path} failed: {message}")]
    Serialize {
        /// JSON path of the value being serialized.
        path: String,
        /// The error reported by the implementation.
        message: String,
    },

    /// A string that is not a content hash.
    #[error(
        "{} is not a content hash: {reason}; expected \"sha256:\" followed by \
         64 lowercase hexadecimal digits",
        quote(input)
    )]
    InvalidContentHash {
        /// The input, shortened to 100 characters.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// A string as a JSON string literal, for messages.
fn quote(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::emit::write_string(&mut out, s);
    String::from_utf8_lossy(&out).into_owned()
}

/// One step of a JSON path.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Index(usize),
    Key(String),
}

/// Formats a path, given root first.
fn format_path<'a>(segs: impl Iterator<Item = &'a Seg>) -> String {
    let mut out = String::from("$");
    for seg in segs {
        match seg {
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            Seg::Key(k) if is_identifier(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => {
                out.push('[');
                out.push_str(&quote(k));
                out.push(']');
            }
        }
    }
    out
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What went wrong, before the path is known.
#[derive(Debug, Clone)]
pub(crate) enum FailKind {
    Syntax {
        line: usize,
        column: usize,
        offset: usize,
        message: String,
    },
    TooDeep,
    DuplicateKey(String),
    UnsafeInteger {
        value: String,
        nearest: String,
    },
    OutOfRange(String),
    NonFinite(f64),
    KeyNotString(&'static str),
    Custom(String),
}

/// An internal failure: the kind plus the path, innermost step first, that
/// each level of the recursion adds to as the error travels up.
#[derive(Debug, Clone)]
pub(crate) struct Fail {
    kind: FailKind,
    rev_path: Vec<Seg>,
}

impl Fail {
    pub(crate) fn new(kind: FailKind) -> Self {
        Fail {
            kind,
            rev_path: Vec::new(),
        }
    }

    /// Records that the failure happened inside `seg` of the enclosing value.
    pub(crate) fn at(mut self, seg: Seg) -> Self {
        self.rev_path.push(seg);
        self
    }

    pub(crate) fn into_error(self) -> CanonError {
        let path = format_path(self.rev_path.iter().rev());
        match self.kind {
            FailKind::Syntax {
                line,
                column,
                offset,
                message,
            } => CanonError::Syntax {
                path,
                line,
                column,
                offset,
                message,
            },
            FailKind::TooDeep => CanonError::TooDeep {
                path,
                limit: MAX_DEPTH,
            },
            FailKind::DuplicateKey(key) => CanonError::DuplicateKey { path, key },
            FailKind::UnsafeInteger { value, nearest } => CanonError::UnsafeInteger {
                path,
                value,
                nearest,
            },
            FailKind::OutOfRange(value) => CanonError::NumberOutOfRange { path, value },
            FailKind::NonFinite(v) => CanonError::NonFiniteNumber {
                path,
                value: v.to_string(),
            },
            FailKind::KeyNotString(kind) => CanonError::KeyNotString { path, kind },
            FailKind::Custom(message) => CanonError::Serialize { path, message },
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.clone().into_error(), f)
    }
}

impl std::error::Error for Fail {}

impl serde::ser::Error for Fail {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Fail::new(FailKind::Custom(msg.to_string()))
    }
}
