//! What a query must be to enter the library or a collection: it parses
//! and validates (every code list already folded in), and its canonical
//! form and hash are computed here, once.

use super::Refusal;
use gpes_canon::ContentHash;
use gpes_protocol::QuerySpec;

/// A query that parsed and validated, with its canonical form.
#[derive(Debug, Clone)]
pub struct CheckedQuery {
    pub id: String,
    pub title: String,
    pub spec: QuerySpec,
    pub parsed: gpes_query::QuerySpec,
}

/// Longest query text accepted (code lists folded in).
pub const MAX_QUERY_BYTES: usize = 1 << 20;

pub fn check(source: &str) -> Result<CheckedQuery, Refusal> {
    if source.trim().is_empty() {
        return Err(Refusal::Invalid("the query text is empty".into()));
    }
    if source.len() > MAX_QUERY_BYTES {
        return Err(Refusal::Invalid(format!(
            "the query text is {} bytes, over the {MAX_QUERY_BYTES} a query may be",
            source.len()
        )));
    }
    let parsed = gpes_query::parse("query", source)
        .map_err(|e| Refusal::Invalid(format!("the query is not valid:\n{e}")))?;
    let canonical = parsed
        .canonical_json()
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    Ok(CheckedQuery {
        id: parsed.id.clone(),
        title: parsed.title.clone(),
        spec: QuerySpec {
            hash: ContentHash::of_bytes(canonical.as_bytes()),
            canonical,
            source: source.to_owned(),
        },
        parsed,
    })
}
