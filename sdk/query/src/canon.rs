//! The canonical form of a validated query: RFC 8785 JSON through
//! `gpes-canon`, named definitions as maps (so their order in the file does
//! not matter), codes as strings, positions left out.

use crate::LANGUAGE_VERSION;
use crate::ast::*;
use gpes_canon::{CanonError, ContentHash};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Canonical<'a> {
    language: &'static str,
    id: &'a str,
    title: &'a str,
    source: &'a str,
    parameters: BTreeMap<&'a str, &'a Parameter>,
    clusters: BTreeMap<&'a str, &'a Cluster>,
    variables: BTreeMap<&'a str, &'a VariableDef>,
    populations: BTreeMap<&'a str, &'a Population>,
    output: &'a Output,
}

impl QuerySpec {
    fn canonical(&self) -> Canonical<'_> {
        Canonical {
            language: LANGUAGE_VERSION,
            id: &self.id,
            title: &self.title,
            source: &self.source,
            parameters: self
                .parameters
                .iter()
                .map(|p| (p.name.as_str(), p))
                .collect(),
            clusters: self.clusters.iter().map(|c| (c.name.as_str(), c)).collect(),
            variables: self
                .variables
                .iter()
                .map(|v| (v.name.as_str(), &v.def))
                .collect(),
            populations: self
                .populations
                .iter()
                .map(|p| (p.name.as_str(), p))
                .collect(),
            output: &self.output,
        }
    }

    /// The query's canonical JSON (RFC 8785).
    pub fn canonical_json(&self) -> Result<String, CanonError> {
        gpes_canon::to_canonical_string(&self.canonical())
    }

    /// The SHA-256 of the canonical JSON: the query's identity.
    pub fn content_hash(&self) -> Result<ContentHash, CanonError> {
        gpes_canon::content_hash(&self.canonical())
    }
}
