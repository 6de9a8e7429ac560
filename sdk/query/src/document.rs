//! The query as operators write it and jobs carry it, first slice: a JSON
//! document naming the query and which parameter holds its reference date.
//!
//! ```json
//! {"query": "registered-count", "reference_date": "pped"}
//! ```
//!
//! The query language issue replaces this with the full YAML language; the
//! shape of `Query::parse`, `Query::bind` and `Query::needs` stays.

use crate::{DataNeeds, RegisteredOn};
use gpes_model::{Date, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest query document accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Query {
    /// Patients registered at the practice on the date held by the named
    /// parameter (see `registered.rs` for the rules).
    RegisteredCount { reference_date: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("the query is {0} bytes, over the limit of {MAX_QUERY_BYTES}")]
    TooLarge(usize),
    #[error("the query is not a valid query document: {0}")]
    Syntax(String),
    #[error("the query needs parameter '{0}', which the collection does not give")]
    MissingParameter(String),
    #[error("parameter '{name}' is '{value}', which is not a date (YYYY-MM-DD): {reason}")]
    BadDate {
        name: String,
        value: String,
        reason: String,
    },
}

impl Query {
    /// Parses and checks a query document (JSON).
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        if text.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLarge(text.len()));
        }
        let q: Query = serde_json::from_str(text).map_err(|e| QueryError::Syntax(e.to_string()))?;
        match &q {
            Query::RegisteredCount { reference_date } if reference_date.is_empty() => Err(
                QueryError::Syntax("reference_date names no parameter".into()),
            ),
            _ => Ok(q),
        }
    }

    /// Names of the parameters the query needs.
    pub fn parameters(&self) -> Vec<&str> {
        match self {
            Query::RegisteredCount { reference_date } => vec![reference_date.as_str()],
        }
    }

    /// What the query needs from the data.
    pub fn needs(&self) -> DataNeeds {
        match self {
            Query::RegisteredCount { .. } => DataNeeds {
                tables: vec![Table::Patients, Table::Registrations],
            },
        }
    }

    /// The query for one practice with its parameters' values.
    pub fn bind(
        &self,
        practice: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<RegisteredOn, QueryError> {
        match self {
            Query::RegisteredCount { reference_date } => {
                let value = parameters
                    .get(reference_date)
                    .ok_or_else(|| QueryError::MissingParameter(reference_date.clone()))?;
                let date = Date::parse_iso(value)
                    .ok()
                    .filter(|d| d.precision == gpes_model::Precision::Day)
                    .ok_or_else(|| QueryError::BadDate {
                        name: reference_date.clone(),
                        value: value.clone(),
                        reason: "a whole date is needed".into(),
                    })?;
                Ok(RegisteredOn {
                    practice: practice.to_owned(),
                    date,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binds_and_refuses() {
        let q =
            Query::parse(r#"{"query":"registered-count","reference_date":"pped"}"#).expect("valid");
        let mut params = BTreeMap::new();
        assert_eq!(
            q.bind("A81001", &params),
            Err(QueryError::MissingParameter("pped".into()))
        );
        params.insert("pped".to_string(), "2025-03".to_string());
        assert!(matches!(
            q.bind("A81001", &params),
            Err(QueryError::BadDate { .. })
        ));
        params.insert("pped".to_string(), "2025-03-31".to_string());
        let bound = q.bind("A81001", &params).expect("binds");
        assert_eq!(bound.date.to_string(), "2025-03-31");
        for bad in [
            r#"{"query":"registered-count"}"#,
            r#"{"query":"registered-count","reference_date":"pped","extra":1}"#,
            r#"{"query":"prevalence","reference_date":"pped"}"#,
            r#"{"query":"registered-count","reference_date":""}"#,
            "not json",
        ] {
            assert!(
                matches!(Query::parse(bad), Err(QueryError::Syntax(_))),
                "{bad}"
            );
        }
    }
}
