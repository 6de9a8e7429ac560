//! What makes a collection valid, and how its parameters resolve when a
//! run fires.

use super::queries::CheckedQuery;
use super::{Refusal, check_practice_code};
use gpes_protocol::{
    CollectionState, CollectionTerms, CreateCollectionRequest, DataClass, Targeting,
};
use gpes_schedule::Schedule;
use std::collections::BTreeMap;

/// The shortest and longest a run may stay open for uploads.
pub const MIN_DEADLINE_SECONDS: u64 = 60;
pub const MAX_DEADLINE_SECONDS: u64 = 366 * 24 * 3600;

/// A collection checked and ready to store.
#[derive(Debug, Clone)]
pub struct NewCollection {
    pub name: String,
    /// The query, checked; the library version it is, once stored.
    pub query: CheckedQuery,
    /// `aggregate` or `record-level`.
    pub output_shape: &'static str,
    pub parameters: BTreeMap<String, String>,
    pub schedule: String,
    pub practices: Vec<String>,
    /// Regions (upper case), suppliers, all, exclusions (upper case).
    pub targeting: Targeting,
    pub purpose: gpes_protocol::Purpose,
    pub data_class: DataClass,
    pub deadline_seconds: u64,
    /// Draft or active, as made.
    pub state: CollectionState,
    /// Who asked, on what basis, how practices take part.
    pub terms: CollectionTerms,
}

/// Replaces `run-date` by the run's London date.
pub fn resolve_parameters(
    parameters: &BTreeMap<String, String>,
    run_date: &str,
) -> BTreeMap<String, String> {
    parameters
        .iter()
        .map(|(k, v)| {
            let v = if v == "run-date" {
                run_date.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// Checks a request to make a collection: the query parses, the
/// parameters bind (with `today` for `run-date`), the output fits the data
/// class, the schedule parses and fires, the practices are ODS codes (no
/// duplicates), and the deadline is sensible.
pub fn validate(
    request: CreateCollectionRequest,
    query: CheckedQuery,
    today: &str,
    default_deadline_seconds: u64,
) -> Result<NewCollection, Refusal> {
    if request.name.trim().is_empty() {
        return Err(Refusal::Invalid("a collection needs a name".into()));
    }
    let spec = &query.parsed;
    spec.bind("CHECK", &resolve_parameters(&request.parameters, today))
        .map_err(|e| Refusal::Invalid(format!("the parameters do not fit the query: {e}")))?;
    check_output_class(spec, request.data_class)?;
    let schedule = request.schedule.trim().to_owned();
    if !schedule.is_empty() {
        let parsed = Schedule::parse(&schedule)
            .map_err(|e| Refusal::Invalid(format!("the schedule is not valid: {e}")))?;
        let from = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
            .map_err(|e| Refusal::Store(format!("today '{today}' is not a date: {e}")))?
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
        if from.and_then(|t| parsed.next_after(t)).is_none() {
            return Err(Refusal::Invalid(format!(
                "the schedule '{schedule}' never fires (no such date in 400 years): check its day and month"
            )));
        }
    }
    if request.practices.is_empty() && !request.targeting.reaches_beyond_list() {
        return Err(Refusal::Invalid(
            "a collection needs practices: named one by one, or by region, supplier or all".into(),
        ));
    }
    let targeting = check_targeting(&request.targeting)?;
    let mut practices = Vec::with_capacity(request.practices.len());
    for p in &request.practices {
        check_practice_code(p)?;
        let upper = p.to_ascii_uppercase();
        if practices.contains(&upper) {
            return Err(Refusal::Invalid(format!(
                "practice '{upper}' is named twice"
            )));
        }
        practices.push(upper);
    }
    let deadline_seconds = request.deadline_seconds.unwrap_or(default_deadline_seconds);
    if !(MIN_DEADLINE_SECONDS..=MAX_DEADLINE_SECONDS).contains(&deadline_seconds) {
        return Err(Refusal::Invalid(format!(
            "a run's deadline must be between {MIN_DEADLINE_SECONDS} seconds and 366 days after it fires, not {deadline_seconds} seconds"
        )));
    }
    let terms = check_terms(&request.terms, request.data_class)?;
    if let Some(rule) = &terms.payment {
        super::payments::check_rule(rule, spec, request.purpose)?;
    }
    let output_shape = match spec.output {
        gpes_query::Output::Aggregate { .. } => "aggregate",
        gpes_query::Output::RecordLevel { .. } => "record-level",
    };
    Ok(NewCollection {
        name: request.name.trim().to_owned(),
        query,
        output_shape,
        parameters: request.parameters,
        schedule,
        practices,
        targeting,
        purpose: request.purpose,
        data_class: request.data_class,
        deadline_seconds,
        state: if request.draft {
            CollectionState::Draft
        } else {
            CollectionState::Active
        },
        terms,
    })
}

/// A collection's terms: a requesting organisation's code in shape (the
/// store checks it exists); patient-identifiable data only with a legal
/// basis and an approval reference recorded.
pub fn check_terms(terms: &CollectionTerms, class: DataClass) -> Result<CollectionTerms, Refusal> {
    fn text(what: &str, v: &Option<String>) -> Result<Option<String>, Refusal> {
        let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if v.chars().count() > 500 || v.chars().any(char::is_control) {
            return Err(Refusal::Invalid(format!(
                "the {what} must be at most 500 printable characters on one line"
            )));
        }
        Ok(Some(v.to_owned()))
    }
    let requested_by = match terms.requested_by.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => {
            if !(3..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Refusal::Invalid(format!(
                    "'{code}' is not an organisation's code: 3 to 10 letters and digits (an ODS code)"
                )));
            }
            Some(code.to_ascii_uppercase())
        }
    };
    let legal_basis = text("legal basis", &terms.legal_basis)?;
    let approval_reference = text("approval reference", &terms.approval_reference)?;
    if class == DataClass::PatientIdentifiable
        && (legal_basis.is_none() || approval_reference.is_none())
    {
        return Err(Refusal::Invalid(
            "patient-identifiable data is collected only under a recorded legal basis and approval: give terms.legal_basis and terms.approval_reference".into(),
        ));
    }
    if terms.needs_approval && !terms.needs_declaration {
        return Err(Refusal::Invalid(
            "a commissioner approves a declared result: a collection that needs an approval needs a declaration too (terms.needs_declaration)".into(),
        ));
    }
    Ok(CollectionTerms {
        requested_by,
        participation: terms.participation,
        method: terms.method,
        legal_basis,
        approval_reference,
        needs_declaration: terms.needs_declaration,
        needs_approval: terms.needs_approval,
        payment: terms.payment.clone(),
    })
}

/// Whether a collection may move from one state to another: a draft is
/// activated; an active one is paused and a paused one activated again;
/// anything but a retired one is retired. Nothing leaves retirement.
pub fn transition(id: &str, from: CollectionState, to: CollectionState) -> Result<(), Refusal> {
    use CollectionState::*;
    let allowed = matches!(
        (from, to),
        (Draft, Active) | (Active, Paused) | (Paused, Active) | (Draft | Active | Paused, Retired)
    );
    if allowed {
        Ok(())
    } else {
        Err(Refusal::CollectionState {
            id: id.to_owned(),
            state: from.as_str(),
            what: format!("it cannot become {}", to.as_str()),
        })
    }
}

/// Targeting's shape: regions are commissioner codes, exclusions practice
/// codes (both upper-cased), suppliers names; nothing named twice. That
/// each exists in the registry the store checks.
pub fn check_targeting(t: &Targeting) -> Result<Targeting, Refusal> {
    fn unique(what: &str, values: Vec<String>) -> Result<Vec<String>, Refusal> {
        let mut out: Vec<String> = Vec::with_capacity(values.len());
        for v in values {
            if out.contains(&v) {
                return Err(Refusal::Invalid(format!("{what} '{v}' is named twice")));
            }
            out.push(v);
        }
        Ok(out)
    }
    let mut regions = Vec::new();
    for r in &t.regions {
        let r = r.trim().to_ascii_uppercase();
        if !(3..=10).contains(&r.len()) || !r.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Refusal::Invalid(format!(
                "'{r}' is not a region: a commissioner's code, 3 to 10 letters and digits"
            )));
        }
        regions.push(r);
    }
    let mut suppliers = Vec::new();
    for s in &t.suppliers {
        let s = s.trim().to_owned();
        if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
            return Err(Refusal::Invalid(format!(
                "'{s}' is not a supplier's name: 1 to 64 printable characters"
            )));
        }
        suppliers.push(s);
    }
    let mut exclude = Vec::new();
    for p in &t.exclude {
        check_practice_code(p)?;
        exclude.push(p.to_ascii_uppercase());
    }
    Ok(Targeting {
        all: t.all,
        regions: unique("region", regions)?,
        suppliers: unique("supplier", suppliers)?,
        exclude: unique("excluded practice", exclude)?,
    })
}

/// A query's output must fit the collection's data class: the rule agents
/// enforce (`gpes_agent::runner::output_allowed`), applied when the
/// collection is made.
pub fn check_output_class(spec: &gpes_query::QuerySpec, class: DataClass) -> Result<(), Refusal> {
    use gpes_query::{DataClass as Column, Output};
    let Output::RecordLevel { columns, .. } = &spec.output else {
        return Ok(());
    };
    if class == DataClass::Aggregate {
        return Err(Refusal::Invalid(
            "the query gives one row per patient: the collection's data class must be record-level-deidentified or patient-identifiable".into(),
        ));
    }
    for c in columns {
        let refused = match c.class {
            Column::Identifier => class != DataClass::PatientIdentifiable,
            Column::Pseudonym => true,
            Column::NonIdentifying => false,
        };
        if refused {
            return Err(Refusal::Invalid(format!(
                "column '{}' ({:?}) is not allowed in a {:?} collection (pseudonyms are not supported yet)",
                c.name, c.class, class
            )));
        }
    }
    Ok(())
}
