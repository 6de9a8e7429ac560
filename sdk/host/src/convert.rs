//! Conversions between the contract's generated types and the model's.

use crate::bindings::gpes::plugin::types as wit;
use gpes_model as model;

fn date(d: &wit::Date) -> model::Date {
    // Not checked here: `Record::validate` checks every date.
    model::Date {
        year: d.year,
        month: d.month,
        day: d.day,
        precision: match d.precision {
            wit::Precision::Day => model::Precision::Day,
            wit::Precision::Month => model::Precision::Month,
            wit::Precision::Year => model::Precision::Year,
        },
    }
}

fn wit_date(d: &model::Date) -> wit::Date {
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

fn table(t: model::Table) -> wit::Table {
    match t {
        model::Table::Patients => wit::Table::Patients,
        model::Table::Registrations => wit::Table::Registrations,
        model::Table::Events => wit::Table::Events,
        model::Table::Medications => wit::Table::Medications,
    }
}

pub fn request(r: &model::Request) -> wit::Request {
    wit::Request {
        practice: r.practice.clone(),
        tables: r.tables.iter().copied().map(table).collect(),
        code_sets: r
            .code_sets
            .iter()
            .map(|c| wit::CodeSet {
                table: table(c.table),
                codes: c.codes.clone(),
                earliest: c.earliest.as_ref().map(wit_date),
                latest: c.latest.as_ref().map(wit_date),
                policy: c.policy,
            })
            .collect(),
    }
}

pub fn record(r: wit::Record) -> model::Record {
    match r {
        wit::Record::Patient(p) => model::Record::Patient(model::Patient {
            id: p.id,
            nhs_number: p.nhs_number,
            date_of_birth: p.date_of_birth.as_ref().map(date),
            sex: match p.sex {
                wit::Sex::Male => model::Sex::Male,
                wit::Sex::Female => model::Sex::Female,
                wit::Sex::Other => model::Sex::Other,
                wit::Sex::Unknown => model::Sex::Unknown,
            },
            postcode: p.postcode,
            date_of_death: p.date_of_death.as_ref().map(date),
            death_date_unknown: p.death_date_unknown,
        }),
        wit::Record::Registration(r) => model::Record::Registration(model::Registration {
            patient_id: r.patient_id,
            practice: r.practice,
            start: date(&r.start),
            end: r.end.as_ref().map(date),
            kind: match r.kind {
                wit::RegistrationType::Regular => model::RegistrationType::Regular,
                wit::RegistrationType::Temporary => model::RegistrationType::Temporary,
            },
        }),
        wit::Record::Event(e) => model::Record::Event(model::Event {
            patient_id: e.patient_id,
            date: date(&e.date),
            code: e.code,
            value: e.value,
            unit: e.unit,
        }),
        wit::Record::Medication(m) => model::Record::Medication(model::Medication {
            patient_id: m.patient_id,
            date: date(&m.date),
            code: m.code,
            quantity: m.quantity,
        }),
    }
}

pub fn summary(s: wit::Summary) -> model::Summary {
    model::Summary {
        records_read: s.records_read,
        records_mapped: s.records_mapped,
        warnings: s
            .warnings
            .into_iter()
            .map(|w| model::Warning {
                kind: match w.kind {
                    wit::WarningKind::MalformedLine => model::WarningKind::MalformedLine,
                    wit::WarningKind::BadDate => model::WarningKind::BadDate,
                    wit::WarningKind::BadNhsNumber => model::WarningKind::BadNhsNumber,
                    wit::WarningKind::UnmappableCode => model::WarningKind::UnmappableCode,
                    wit::WarningKind::UnknownCodeSystem => model::WarningKind::UnknownCodeSystem,
                    wit::WarningKind::DuplicatePatient => model::WarningKind::DuplicatePatient,
                    wit::WarningKind::BadValue => model::WarningKind::BadValue,
                    wit::WarningKind::Other => model::WarningKind::Other,
                },
                count: w.count,
                file: w.file,
                line: w.line,
                message: w.message,
            })
            .collect(),
    }
}

pub fn info(i: wit::PluginInfo) -> model::PluginInfo {
    model::PluginInfo {
        name: i.name,
        version: i.version,
        supplier: i.supplier,
        data_model_version: i.data_model_version,
    }
}
