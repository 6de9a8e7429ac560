//! Why an extraction failed as a whole.

use std::fmt;

/// An extraction that cannot go on: a file the request needs is missing or
/// unreadable, or the request itself is unusable. Problems with single
/// lines are counted [`crate::Warnings`], never this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractError {
    /// What went wrong and what to do about it, for the site's staff.
    pub message: String,
    /// The file it concerns, if one.
    pub file: Option<String>,
}

impl ExtractError {
    /// A failure not tied to one file.
    pub fn new(message: impl Into<String>) -> ExtractError {
        ExtractError {
            message: message.into(),
            file: None,
        }
    }

    /// A failure of one file; the message is prefixed with its name.
    pub fn in_file(file: &str, message: impl fmt::Display) -> ExtractError {
        ExtractError {
            message: format!("{file}: {message}"),
            file: Some(file.to_owned()),
        }
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExtractError {}
