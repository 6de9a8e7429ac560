//! Counted data-quality warnings.

use crate::{Warning, WarningKind};
use std::collections::BTreeMap;

/// Data-quality problems counted by kind, file and reason, each with the
/// first line it happened on and that occurrence's message. Count every
/// source line you could not use; never drop one silently.
#[derive(Debug, Default)]
pub struct Warnings {
    by_key: BTreeMap<(WarningKind, String, String), Warning>,
}

impl Warnings {
    /// Counts one occurrence of `kind` in `file`. `message` is asked for
    /// only at the first occurrence, so it may describe that one.
    pub fn add(
        &mut self,
        kind: WarningKind,
        file: &str,
        line: u64,
        message: impl FnOnce() -> String,
    ) {
        self.add_for(kind, file, line, "", message);
    }

    /// As [`Warnings::add`], counted apart for each `reason` (e.g.
    /// "Condition: no SNOMED CT coding"), so one file's different problems
    /// of the same kind are reported separately.
    pub fn add_for(
        &mut self,
        kind: WarningKind,
        file: &str,
        line: u64,
        reason: &str,
        message: impl FnOnce() -> String,
    ) {
        if let Some(w) = self
            .by_key
            .get_mut(&(kind, file.to_owned(), reason.to_owned()))
        {
            w.count += 1;
            return;
        }
        self.by_key.insert(
            (kind, file.to_owned(), reason.to_owned()),
            Warning {
                kind,
                count: 1,
                file: file.to_owned(),
                line,
                message: message(),
            },
        );
    }

    /// A problem counted `count` times at once, with no first line (e.g. a
    /// whole file left unread).
    pub fn add_many(&mut self, kind: WarningKind, file: &str, count: u64, message: String) {
        let w = self
            .by_key
            .entry((kind, file.to_owned(), message.clone()))
            .or_insert_with(|| Warning {
                kind,
                count: 0,
                file: file.to_owned(),
                line: 0,
                message,
            });
        w.count += count;
    }

    /// Total occurrences counted.
    pub fn total(&self) -> u64 {
        self.by_key.values().map(|w| w.count).sum()
    }

    /// The warnings, in a stable order (kind, file, reason).
    pub fn to_vec(&self) -> Vec<Warning> {
        self.by_key.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_file_and_reason_keeping_the_first_line() {
        let mut w = Warnings::default();
        w.add(WarningKind::BadDate, "a.csv", 3, || "first".into());
        w.add(WarningKind::BadDate, "a.csv", 9, || {
            unreachable!("asked once")
        });
        w.add(WarningKind::BadDate, "b.csv", 2, || "other file".into());
        w.add_for(
            WarningKind::UnmappableCode,
            "c.ndjson",
            4,
            "Condition",
            || "c".into(),
        );
        w.add_for(
            WarningKind::UnmappableCode,
            "c.ndjson",
            5,
            "Observation",
            || "o".into(),
        );
        w.add_many(WarningKind::Other, "d.ndjson", 7, "not read".into());
        let v = w.to_vec();
        assert_eq!(v.len(), 5);
        assert_eq!(
            (v[0].count, v[0].line, v[0].message.as_str()),
            (2, 3, "first")
        );
        assert_eq!(w.total(), 2 + 1 + 1 + 1 + 7);
    }
}
