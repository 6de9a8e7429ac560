//! Conformance suite in the style of ehrQL's spec tests: for each construct
//! a small table of input records and, per patient, the value the language
//! (SPEC.md) says it has. Expected values are written by hand from the
//! semantics, never produced by the engine.
//!
//! Every case runs the query with records forwards and backwards, which
//! must give the same answer.

mod demographics;
mod events;
mod logic;
mod outputs;
mod passes;
mod registration;
mod same_day;
mod values;
mod windows;

use gpes_model::{Date, Event, Medication, Patient, Record, Registration, RegistrationType, Sex};
use gpes_query::{self, Answer, OutValue, ResultOutput};
use std::collections::BTreeMap;

pub const PRACTICE: &str = "A81001";

/// Clusters every case can use. 44054006 is in both DM and T2.
pub const CLUSTERS: &str = r#"
  DM:    { system: snomed, codes: ["73211009", "44054006"] }
  T2:    { system: snomed, codes: ["44054006", "46635009"] }
  RES:   { system: snomed, codes: ["315051004"] }
  HBA1C: { system: snomed, codes: ["999791000000106"] }
  EMPTY: { system: snomed, codes: [] }
  MED:   { system: dmd, codes: ["322236009", "39113611000001102"] }
  SYS:   { system: snomed, codes: ["72313002", "163030003"] }
  DIA:   { system: snomed, codes: ["1091811000000102", "163031004"] }
  PULSE: { system: snomed, codes: ["364075005"] }
"#;

pub const DM: u64 = 73211009;
pub const T2: u64 = 44054006; // in DM and T2
pub const T2_ONLY: u64 = 46635009;
pub const RES: u64 = 315051004;
pub const HBA1C: u64 = 999791000000106;
pub const MED1: u64 = 322236009;
pub const MED2: u64 = 39113611000001102;
pub const OTHER: u64 = 38341003;
pub const SYS: u64 = 72313002;
pub const SYS2: u64 = 163030003;
pub const DIA: u64 = 1091811000000102;
pub const DIA2: u64 = 163031004;
pub const PULSE: u64 = 364075005;

pub fn d(s: &str) -> Date {
    Date::parse_iso(s).expect("test date")
}

pub fn patient(id: &str, dob: Option<&str>, sex: Sex, death: Option<&str>) -> Record {
    Record::Patient(Patient {
        id: id.into(),
        nhs_number: None,
        date_of_birth: dob.map(d),
        sex,
        postcode: None,
        date_of_death: death.map(d),
        death_date_unknown: false,
    })
}

/// A patient with a record and nothing notable about it.
pub fn p(id: &str) -> Record {
    patient(id, Some("1960-06-15"), Sex::Female, None)
}

pub fn ev(id: &str, date: &str, code: u64, value: Option<f64>) -> Record {
    Record::Event(Event {
        patient_id: id.into(),
        date: d(date),
        code,
        value,
        unit: None,
    })
}

pub fn med(id: &str, date: &str, code: u64, quantity: Option<f64>) -> Record {
    Record::Medication(Medication {
        patient_id: id.into(),
        date: d(date),
        code,
        quantity,
    })
}

pub fn reg(id: &str, practice: &str, start: &str, end: Option<&str>, regular: bool) -> Record {
    Record::Registration(Registration {
        patient_id: id.into(),
        practice: practice.into(),
        start: d(start),
        end: end.map(d),
        kind: if regular {
            RegistrationType::Regular
        } else {
            RegistrationType::Temporary
        },
    })
}

/// A whole query around one variable `V`, selecting every patient and
/// listing `V` per patient.
pub fn variable_query(definition: &str) -> String {
    format!(
        r#"id: conformance
title: one variable
source: "conformance suite"
parameters:
  PPED: {{ type: date, default: 2025-03-31 }}
  LIMIT: {{ type: number, default: 58 }}
clusters:{CLUSTERS}
variables:
  V: {definition}
populations:
  ALL: {{ from: all_patients }}
output:
  record_level:
    population: ALL
    columns:
      - {{ name: id, value: patient_id, class: pseudonym }}
      - {{ name: v, value: V, class: non_identifying }}
"#
    )
}

pub fn show(v: &OutValue) -> String {
    match v {
        OutValue::Null => "null".into(),
        OutValue::Bool(b) => b.to_string(),
        OutValue::Number(x) => x.to_string(),
        OutValue::Text(t) => t.clone(),
    }
}

pub fn run(query: &str, params: &[(&str, &str)], records: &[Record]) -> Answer {
    let spec = gpes_query::parse("case.yaml", query).unwrap_or_else(|e| panic!("{e}\n{query}"));
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let bound = spec.bind(PRACTICE, &params).expect("binds");
    let forward = bound.evaluate(records);
    let backward = bound.evaluate(records.iter().rev());
    assert_eq!(forward, backward, "record order changed the answer");
    forward
}

/// The first listed column per row, mapped to the second.
pub fn rows(answer: &Answer) -> BTreeMap<String, String> {
    let ResultOutput::RecordLevel(r) = &answer.output else {
        panic!("expected a record-level answer");
    };
    r.rows
        .iter()
        .map(|row| (show(&row[0]), show(&row[1])))
        .collect()
}

/// Checks one variable's value per patient.
pub fn check_variable(case: &str, definition: &str, records: &[Record], expected: &[(&str, &str)]) {
    check_variable_with(case, definition, &[], records, expected);
}

pub fn check_variable_with(
    case: &str,
    definition: &str,
    params: &[(&str, &str)],
    records: &[Record],
    expected: &[(&str, &str)],
) {
    let got = rows(&run(&variable_query(definition), params, records));
    let want: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(got, want, "case: {case}");
}

/// Every row of a record-level answer, as text.
pub fn table(answer: &Answer) -> Vec<Vec<String>> {
    let ResultOutput::RecordLevel(r) = &answer.output else {
        panic!("record level expected");
    };
    r.rows
        .iter()
        .map(|row| row.iter().map(show).collect())
        .collect()
}
