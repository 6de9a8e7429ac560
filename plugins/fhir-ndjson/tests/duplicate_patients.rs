//! A Patient id on more than one resource, natively over a folder (the same
//! code the component runs): every such resource is a counted
//! `duplicate-patient` warning, and the patient is kept once only if all
//! its resources map to the same record. The Patient files may be several.

use gpes_plugin_fhir_ndjson::FhirNdjson;
use gpes_plugin_sdk::{Record, Request, Table, WarningKind, run_native};

fn patient(id: &str, gender: &str, extra: &str) -> String {
    format!(
        r#"{{"resourceType":"Patient","id":"{id}","gender":"{gender}","birthDate":"1950-07"{extra}}}"#
    )
}

#[test]
fn a_repeated_patient_id_is_warned_on_every_resource_and_kept_only_if_they_agree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, lines: &[String]| {
        std::fs::write(dir.path().join(name), lines.join("\n") + "\n").expect("write");
    };
    write(
        "Patient.000.ndjson",
        &[
            patient("p1", "male", ""),
            patient("p2", "female", ""),
            patient("p3", "female", ""),
            patient("p4", "male", ""),
        ],
    );
    write(
        "Patient.001.ndjson",
        &[
            // p2 again, the same.
            patient("p2", "female", ""),
            // p1 again, another gender: neither is used.
            patient("p1", "female", ""),
            // p3 again, with a field the mapping does not read: the same
            // record.
            patient("p3", "female", r#","active":true"#),
        ],
    );
    let request = Request {
        practice: "A81001".into(),
        tables: vec![Table::Patients],
        code_sets: vec![],
    };
    let mut ids = Vec::new();
    let run = run_native::<FhirNdjson>(dir.path(), &request, |r| {
        if let Record::Patient(p) = r {
            ids.push(p.id);
        }
    })
    .expect("a repeated id does not fail the extraction");
    ids.sort();
    assert_eq!(ids, ["p2", "p3", "p4"]);
    assert_eq!(run.summary.records_read, 7);
    assert_eq!(run.summary.records_mapped, 3);
    let mut found: Vec<(WarningKind, &str, u64, u64, &str)> = run
        .summary
        .warnings
        .iter()
        .map(|w| (w.kind, w.file.as_str(), w.line, w.count, w.message.as_str()))
        .collect();
    found.sort();
    use WarningKind::DuplicatePatient;
    assert_eq!(
        found,
        [
            (
                DuplicatePatient,
                "Patient.000.ndjson",
                1,
                1,
                "Patient: id 'p1' is on Patient.000.ndjson line 1 and Patient.001.ndjson \
                 line 2, which differ: neither is used, so the patient has no patient record \
                 (every line of a repeated id is counted)"
            ),
            (
                DuplicatePatient,
                "Patient.000.ndjson",
                2,
                2,
                "Patient: id 'p2' is on Patient.000.ndjson line 2 and Patient.001.ndjson \
                 line 1, which agree: the patient is kept once (every line of a repeated id \
                 is counted)"
            ),
            (
                DuplicatePatient,
                "Patient.001.ndjson",
                1,
                2,
                "Patient: id 'p2' is on Patient.000.ndjson line 2 and Patient.001.ndjson \
                 line 1, which agree: the patient is kept once (every line of a repeated id \
                 is counted)"
            ),
            (
                DuplicatePatient,
                "Patient.001.ndjson",
                2,
                1,
                "Patient: id 'p1' is on Patient.000.ndjson line 1 and Patient.001.ndjson \
                 line 2, which differ: neither is used, so the patient has no patient record \
                 (every line of a repeated id is counted)"
            ),
        ]
    );
}
