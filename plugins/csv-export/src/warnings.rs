//! Counted data-quality warnings: one entry per kind and file, with the
//! first line it happened on.

use crate::bindings::gpes::plugin::types::{Warning, WarningKind};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct Warnings {
    by_kind_and_file: BTreeMap<(u8, String), Warning>,
}

impl Warnings {
    pub fn add(
        &mut self,
        kind: WarningKind,
        file: &str,
        line: u64,
        message: impl FnOnce() -> String,
    ) {
        self.by_kind_and_file
            .entry((kind as u8, file.to_owned()))
            .and_modify(|w| w.count += 1)
            .or_insert_with(|| Warning {
                kind,
                count: 1,
                file: file.to_owned(),
                line,
                message: message(),
            });
    }

    pub fn to_vec(&self) -> Vec<Warning> {
        self.by_kind_and_file.values().cloned().collect()
    }
}
