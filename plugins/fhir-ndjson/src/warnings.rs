//! Counted data-quality warnings: one entry per kind, file and reason (the
//! reason names the resource type, e.g. "Condition: no SNOMED CT coding"),
//! with the first line it happened on.

use crate::bindings::gpes::plugin::types::{Warning, WarningKind};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct Warnings {
    by_key: BTreeMap<(u8, String, String), Warning>,
}

impl Warnings {
    /// Counts one occurrence; `message` is asked for only at the first, so
    /// it may carry that occurrence's detail.
    pub fn add(
        &mut self,
        kind: WarningKind,
        file: &str,
        line: u64,
        reason: &str,
        message: impl FnOnce() -> String,
    ) {
        self.by_key
            .entry((kind as u8, file.to_owned(), reason.to_owned()))
            .and_modify(|w| w.count += 1)
            .or_insert_with(|| Warning {
                kind,
                count: 1,
                file: file.to_owned(),
                line,
                message: message(),
            });
    }

    /// A warning counted `count` times at once (files left unopened).
    pub fn add_many(&mut self, kind: WarningKind, file: &str, count: u64, message: String) {
        self.by_key.insert(
            (kind as u8, file.to_owned(), message.clone()),
            Warning {
                kind,
                count,
                file: file.to_owned(),
                line: 0,
                message,
            },
        );
    }

    pub fn to_vec(&self) -> Vec<Warning> {
        self.by_key.values().cloned().collect()
    }
}
