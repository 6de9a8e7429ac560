//! Many patients and events through the DM020 example: the streaming engine
//! gives the count a plain loop over the same construction gives, in any
//! order.

use gpes_model::{Date, Event, Patient, Record, Registration, RegistrationType, Sex};
use std::collections::BTreeMap;

#[test]
fn dm020_over_many_patients() {
    let d = |y: i32, m: u8, dd: u8| Date::ymd(y, m, dd).expect("date");
    let n = 6000u32;
    let mut records = Vec::new();
    let (mut register, mut numerator) = (0u64, 0u64);
    for i in 0..n {
        let id = format!("p{i}");
        records.push(Record::Patient(Patient {
            id: id.clone(),
            nhs_number: None,
            date_of_birth: Some(d(1960, 1, 1)),
            sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        }));
        records.push(Record::Registration(Registration {
            patient_id: id.clone(),
            practice: "A81001".into(),
            start: d(2000, 1, 1),
            end: None,
            kind: RegistrationType::Regular,
        }));
        let diabetic = i % 3 == 0;
        if diabetic {
            records.push(Record::Event(Event {
                patient_id: id.clone(),
                date: d(2015, 1, 1),
                code: 73211009,
                value: None,
                unit: None,
            }));
            register += 1;
        }
        // Twelve monthly readings; the last one (March 2025) decides.
        for m in 1..=12u8 {
            let (y, mm) = if m <= 3 { (2025, m) } else { (2024, m) };
            let v = if y == 2025 && mm == 3 {
                f64::from(i % 100)
            } else {
                99.0
            };
            records.push(Record::Event(Event {
                patient_id: id.clone(),
                date: d(y, mm, 15),
                code: 999791000000106,
                value: Some(v),
                unit: None,
            }));
        }
        if diabetic && i % 100 <= 58 {
            numerator += 1;
        }
    }
    let spec = gpes_query::parse("dm020.yaml", include_str!("queries/dm020.yaml")).expect("valid");
    let bound = spec.bind("A81001", &BTreeMap::new()).expect("binds");
    let forward = bound.evaluate(&records);
    assert_eq!(forward.count("DM_REG"), Some(register));
    assert_eq!(forward.count("DM020_DEN"), Some(register));
    assert_eq!(forward.count("DM020_NUM"), Some(numerator));
    records.reverse();
    assert_eq!(bound.evaluate(&records), forward);
}
