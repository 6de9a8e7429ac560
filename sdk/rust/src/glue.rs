//! What `export_adapter!` expands to call: the contract's exports in terms
//! of an [`Adapter`], and the conversions between the generated WIT types
//! and the model's. Not for adapters to use directly.

use crate::bindings::exports::gpes::plugin::extractor::{self as wit_export, GuestExtraction};
use crate::bindings::gpes::plugin::types as wit;
use crate::{Adapter, ExtractError, Extraction, Source, model};
use std::cell::RefCell;

/// Records returned in one batch: enough to amortise the call, small enough
/// to keep the guest's memory flat.
const BATCH: usize = 1024;

/// An adapter's extraction as the contract's `extraction` resource.
pub struct Running<A: Adapter> {
    extraction: RefCell<A::Extraction>,
}

impl<A: Adapter> std::fmt::Debug for Running<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

pub fn describe<A: Adapter>() -> wit::PluginInfo {
    let info = A::describe();
    wit::PluginInfo {
        name: info.name,
        version: info.version,
        supplier: info.supplier,
        data_model_version: info.data_model_version,
    }
}

pub fn extract<A: Adapter>(
    request: wit::Request,
) -> Result<wit_export::Extraction, wit::ExtractError> {
    let request = request_from_wit(&request).map_err(error_to_wit)?;
    let extraction = A::extract(&request, Source::host()).map_err(error_to_wit)?;
    Ok(wit_export::Extraction::new(Running::<A> {
        extraction: RefCell::new(extraction),
    }))
}

impl<A: Adapter> GuestExtraction for Running<A> {
    fn next_batch(&self) -> Result<Option<Vec<wit::Record>>, wit::ExtractError> {
        let mut extraction = self.extraction.borrow_mut();
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            match extraction.next_record().map_err(error_to_wit)? {
                Some(r) => batch.push(record_to_wit(r)),
                None => break,
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn finish(&self) -> Result<wit::Summary, wit::ExtractError> {
        let summary = self
            .extraction
            .borrow_mut()
            .finish()
            .map_err(error_to_wit)?;
        Ok(wit::Summary {
            records_read: summary.records_read,
            records_mapped: summary.records_mapped,
            warnings: summary
                .warnings
                .into_iter()
                .map(|w| wit::Warning {
                    kind: warning_kind_to_wit(w.kind),
                    count: w.count,
                    file: w.file,
                    line: w.line,
                    message: w.message,
                })
                .collect(),
        })
    }
}

fn error_to_wit(e: ExtractError) -> wit::ExtractError {
    wit::ExtractError {
        message: e.message,
        file: e.file,
    }
}

fn table_from_wit(t: wit::Table) -> model::Table {
    match t {
        wit::Table::Patients => model::Table::Patients,
        wit::Table::Registrations => model::Table::Registrations,
        wit::Table::Events => model::Table::Events,
        wit::Table::Medications => model::Table::Medications,
    }
}

fn date_from_wit(d: &wit::Date) -> Result<model::Date, ExtractError> {
    let precision = match d.precision {
        wit::Precision::Day => model::Precision::Day,
        wit::Precision::Month => model::Precision::Month,
        wit::Precision::Year => model::Precision::Year,
    };
    model::Date::new(d.year, d.month, d.day, precision).map_err(|e| {
        ExtractError::new(format!(
            "the request has a code set with an impossible date bound {}-{}-{}: {e}",
            d.year, d.month, d.day
        ))
    })
}

/// The request in the model's terms; an impossible date bound is refused.
pub fn request_from_wit(r: &wit::Request) -> Result<model::Request, ExtractError> {
    let code_sets = r
        .code_sets
        .iter()
        .map(|c| {
            Ok(model::CodeSet {
                table: table_from_wit(c.table),
                codes: c.codes.clone(),
                earliest: c.earliest.as_ref().map(date_from_wit).transpose()?,
                latest: c.latest.as_ref().map(date_from_wit).transpose()?,
                policy: c.policy,
            })
        })
        .collect::<Result<_, ExtractError>>()?;
    Ok(model::Request {
        practice: r.practice.clone(),
        tables: r.tables.iter().copied().map(table_from_wit).collect(),
        code_sets,
    })
}

fn date_to_wit(d: model::Date) -> wit::Date {
    wit::Date {
        year: d.year,
        month: d.month,
        day: d.day,
        precision: match d.precision {
            model::Precision::Day => wit::Precision::Day,
            model::Precision::Month => wit::Precision::Month,
            model::Precision::Year => wit::Precision::Year,
        },
    }
}

fn warning_kind_to_wit(k: model::WarningKind) -> wit::WarningKind {
    use model::WarningKind as M;
    use wit::WarningKind as W;
    match k {
        M::MalformedLine => W::MalformedLine,
        M::BadDate => W::BadDate,
        M::BadNhsNumber => W::BadNhsNumber,
        M::UnmappableCode => W::UnmappableCode,
        M::UnknownCodeSystem => W::UnknownCodeSystem,
        M::DuplicatePatient => W::DuplicatePatient,
        M::BadValue => W::BadValue,
        M::Other => W::Other,
    }
}

pub fn record_to_wit(r: model::Record) -> wit::Record {
    match r {
        model::Record::Patient(p) => wit::Record::Patient(wit::Patient {
            id: p.id,
            nhs_number: p.nhs_number,
            date_of_birth: p.date_of_birth.map(date_to_wit),
            sex: match p.sex {
                model::Sex::Male => wit::Sex::Male,
                model::Sex::Female => wit::Sex::Female,
                model::Sex::Other => wit::Sex::Other,
                model::Sex::Unknown => wit::Sex::Unknown,
            },
            postcode: p.postcode,
            date_of_death: p.date_of_death.map(date_to_wit),
            death_date_unknown: p.death_date_unknown,
        }),
        model::Record::Registration(r) => wit::Record::Registration(wit::Registration {
            patient_id: r.patient_id,
            practice: r.practice,
            start: date_to_wit(r.start),
            end: r.end.map(date_to_wit),
            kind: match r.kind {
                model::RegistrationType::Regular => wit::RegistrationType::Regular,
                model::RegistrationType::Temporary => wit::RegistrationType::Temporary,
            },
        }),
        model::Record::Event(e) => wit::Record::Event(wit::Event {
            patient_id: e.patient_id,
            date: date_to_wit(e.date),
            code: e.code,
            value: e.value,
            unit: e.unit,
        }),
        model::Record::Medication(m) => wit::Record::Medication(wit::Medication {
            patient_id: m.patient_id,
            date: date_to_wit(m.date),
            code: m.code,
            quantity: m.quantity,
        }),
    }
}
