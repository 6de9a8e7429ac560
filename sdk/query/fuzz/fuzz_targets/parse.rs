//! Any bytes as a query file: parsing, canonicalisation, binding, needs and
//! evaluation over a few records must never panic.
#![no_main]

use gpes_model::{Date, Event, Patient, Record, Sex};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = gpes_query::parse("fuzz.yaml", text) else {
        return;
    };
    let _ = spec.canonical_json();
    let Ok(bound) = spec.bind("A81001", &BTreeMap::new()) else {
        return;
    };
    let _ = bound.needs();
    let date = Date::ymd(2024, 2, 29).expect("valid");
    let records = [
        Record::Patient(Patient {
            id: "p".into(),
            nhs_number: None,
            date_of_birth: Some(date),
            sex: Sex::Female,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        }),
        Record::Event(Event {
            patient_id: "p".into(),
            date,
            code: 73211009,
            value: Some(1.0),
            unit: None,
        }),
    ];
    let _ = bound.evaluate(&records);
});
