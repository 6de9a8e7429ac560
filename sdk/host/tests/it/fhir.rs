//! The FHIR R4 bulk-data (NDJSON) plugin, over a real Synthea export (in
//! the repository, `tests/fixtures/synthea-bulk-10`) and over small
//! hand-made folders.

use crate::common::*;
use gpes_host::{Extraction, ExtractionError, Limits};
use gpes_model::{
    CodeSet, Date, Precision, Record, RegistrationType, Request, Sex, Table, WarningKind,
};
use std::path::{Path, PathBuf};

/// The Synthea export (its README.md names its source and licence). Always
/// there: it is part of the repository.
fn fixture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/synthea-bulk-10");
    assert!(
        dir.join("Patient.000.ndjson").is_file(),
        "the Synthea fixture is missing from the repository: {}",
        dir.display()
    );
    dir
}

fn all_tables() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: vec![],
    }
}

/// Every table but registrations: for exports written with one resource
/// type and no EpisodeOfCare (an extraction asking for registrations and
/// finding none naming the practice fails).
fn all_but_registrations() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients, Table::Events, Table::Medications],
        code_sets: vec![],
    }
}

async fn extract(root: &Path, request: &Request) -> (Vec<Record>, Extraction) {
    let mut records = Vec::new();
    let extraction = plugin(gpes_plugin_artifacts::FHIR_NDJSON)
        .extract(root, request, &Limits::default(), |r| records.push(r))
        .await
        .expect("the extraction succeeds");
    (records, extraction)
}

/// The warnings as (file, kind, count, first line, message), sorted.
fn warnings(extraction: &Extraction) -> Vec<(String, WarningKind, u64, u64, String)> {
    let mut w: Vec<_> = extraction
        .summary
        .warnings
        .iter()
        .map(|w| (w.file.clone(), w.kind, w.count, w.line, w.message.clone()))
        .collect();
    w.sort_by(|a, b| (&a.0, &a.4).cmp(&(&b.0, &b.4)));
    w
}

fn owned(
    rows: &[(&str, WarningKind, u64, u64, &str)],
) -> Vec<(String, WarningKind, u64, u64, String)> {
    rows.iter()
        .map(|(f, k, c, l, m)| (f.to_string(), *k, *c, *l, m.to_string()))
        .collect()
}

#[tokio::test]
async fn describe_says_what_the_fhir_plugin_is() {
    let info = plugin(gpes_plugin_artifacts::FHIR_NDJSON)
        .describe(&Limits::default())
        .await
        .expect("describe works");
    assert_eq!(info.name, "fhir-ndjson");
    assert_eq!(info.data_model_version, gpes_model::DATA_MODEL_VERSION);
}

#[tokio::test]
async fn maps_the_synthea_bulk_export_as_counted_by_hand() {
    let dir = fixture();
    // Every table but registrations: the export has none (see the tests
    // below for registrations).
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients, Table::Events, Table::Medications],
        code_sets: vec![],
    };
    let (records, extraction) = extract(&dir, &request).await;

    // The table below was computed independently of the plugin, with
    // python3's json module over the NDJSON files (and cross-checked with
    // `wc -l` and `grep -c`):
    //   Patient.000.ndjson            13 lines, 13 patients, none without id
    //   Condition.000.ndjson         555 lines, every one with one SNOMED CT
    //                                coding (positive integer code), a
    //                                `Patient/` subject, an onsetDateTime and
    //                                verificationStatus confirmed; clinical
    //                                status active on 107, resolved on 448
    //                                (the first on line 2)
    //   Immunization.000.ndjson      161 lines, every vaccineCode CVX only
    //                                (0 lines mention snomed.info/sct)
    //   MedicationRequest.000.ndjson 1745 lines, every medication coded in
    //                                RxNorm only (0 lines mention dmd.nhs.uk)
    //   AllergyIntolerance, Encounter, Organization: types the plugin does
    //   not use, one file each; log.ndjson: the export's own log.
    // So resources read = 13 + 555 + 161 + 1745 = 2474, and records mapped =
    // 13 patients + 107 active conditions = 120; no Observation or
    // EpisodeOfCare file.
    assert_eq!(extraction.summary.records_read, 2474);
    assert_eq!(extraction.summary.records_mapped, 120);
    assert_eq!(extraction.records, 120);
    assert_eq!(records.len(), 120);
    let count = |t: Table| records.iter().filter(|r| r.table() == t).count();
    assert_eq!(count(Table::Patients), 13);
    assert_eq!(count(Table::Events), 107);
    assert_eq!(count(Table::Registrations), 0);
    assert_eq!(count(Table::Medications), 0);

    use WarningKind::{Other, UnknownCodeSystem};
    assert_eq!(
        warnings(&extraction),
        owned(&[
            (
                "AllergyIntolerance.000.ndjson",
                Other,
                1,
                0,
                "AllergyIntolerance: not used (file not opened)",
            ),
            (
                "Condition.000.ndjson",
                Other,
                448,
                2,
                "Condition: clinicalStatus resolved (the model has no resolution event)",
            ),
            (
                "Encounter.000.ndjson",
                Other,
                1,
                0,
                "Encounter: not used (file not opened)",
            ),
            (
                "Immunization.000.ndjson",
                UnknownCodeSystem,
                161,
                1,
                "Immunization: no SNOMED CT coding",
            ),
            (
                "MedicationRequest.000.ndjson",
                UnknownCodeSystem,
                1745,
                1,
                "MedicationRequest: no dm+d coding (RxNorm only)",
            ),
            (
                "Organization.000.ndjson",
                Other,
                1,
                0,
                "Organization: not used (file not opened)",
            ),
            (
                "log.ndjson",
                Other,
                1,
                0,
                "log.ndjson: not a FHIR resource file (not opened)",
            ),
        ])
    );

    // Only the files of resource types in use were opened.
    let names: Vec<&str> = extraction
        .fingerprint
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Condition.000.ndjson",
            "Immunization.000.ndjson",
            "MedicationRequest.000.ndjson",
            "Patient.000.ndjson",
        ]
    );

    // Patient 129c6ac7 (line 1, read by hand): female, born 1927-05-21,
    // died "1989-05-09T20:35:22-04:00" (a UTC shift would give 05-10),
    // postcode 66801, no NHS number.
    let p = records
        .iter()
        .find_map(|r| match r {
            Record::Patient(p) if p.id == "129c6ac7-8d06-89de-ad63-0204a93e76c3" => Some(p),
            _ => None,
        })
        .expect("patient 129c6ac7 is mapped");
    assert_eq!(p.sex, Sex::Female);
    assert_eq!(
        p.date_of_birth,
        Some(Date::ymd(1927, 5, 21).expect("valid"))
    );
    assert_eq!(p.date_of_death, Some(Date::ymd(1989, 5, 9).expect("valid")));
    assert_eq!(p.postcode.as_deref(), Some("66801"));
    assert_eq!(p.nhs_number, None);
    // Condition line 1: sepsis (91302008), onset "1976-01-19T22:58:16-05:00"
    // (in UTC it would be the 20th).
    assert!(records.iter().any(|r| matches!(r,
        Record::Event(e) if e.patient_id == "129c6ac7-8d06-89de-ad63-0204a93e76c3"
            && e.code == 91302008
            && e.date == Date::ymd(1976, 1, 19).expect("valid"))));
}

/// A copy of the Synthea export with an EpisodeOfCare file added: one open
/// regular registration at the practice from 2000-01-01 for each of its 13
/// patients (made up here; Synthea writes none).
fn synthea_with_registrations() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temp dir");
    let mut episodes = String::new();
    for entry in std::fs::read_dir(fixture()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
    }
    let patients = std::fs::read_to_string(copy.path().join("Patient.000.ndjson")).expect("read");
    for line in patients.lines() {
        // Synthea writes `{"resourceType":"Patient","id":"...",` first.
        let id = line
            .strip_prefix(r#"{"resourceType":"Patient","id":""#)
            .and_then(|rest| rest.split('"').next())
            .expect("a Patient line starts with its id");
        episodes.push_str(&episode(id));
        episodes.push('\n');
    }
    std::fs::write(copy.path().join("EpisodeOfCare.000.ndjson"), episodes).expect("write");
    copy
}

#[tokio::test]
async fn the_synthea_export_with_registrations_added_counts_its_living_patients() {
    let copy = synthea_with_registrations();
    let (records, extraction) = extract(copy.path(), &all_tables()).await;
    // The table above, plus the 13 episodes read and mapped.
    assert_eq!(extraction.summary.records_read, 2474 + 13);
    assert_eq!(extraction.summary.records_mapped, 120 + 13);
    let regs = records
        .iter()
        .filter(|r| r.table() == Table::Registrations)
        .count();
    assert_eq!(regs, 13);
    // 3 of the 13 died (1971, 1989, 1994; read by hand): 10 registered.
    let registered = Registered::of(&query().evaluate(&records));
    assert_eq!(registered.registered, 10);
}

#[tokio::test]
async fn the_synthea_export_as_it_is_names_no_registration() {
    let result = plugin(gpes_plugin_artifacts::FHIR_NDJSON)
        .extract(&fixture(), &all_tables(), &Limits::default(), |_| {})
        .await;
    // Synthea writes no EpisodeOfCare: no registration names the practice,
    // and the host refuses to answer zero for every population.
    match result {
        Err(ExtractionError::PracticeNotInExport { practice, seen }) => {
            assert_eq!(practice, PRACTICE);
            assert!(seen.is_empty(), "{seen:?}");
        }
        other => panic!("expected no registration naming the practice, got {other:?}"),
    }
}

/// A small export written by hand; each line's purpose is beside it.
fn hand_made() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, lines: &[&str]| {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(dir.path().join(name), text).expect("write");
    };
    write(
        "Patient.000.ndjson",
        &[
            // 1: a valid NHS number (NHS Digital's example), a month-precision
            // birth date, a death date-time with an offset.
            r#"{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"gender":"male","birthDate":"1950-07","deceasedDateTime":"2024-03-31T23:30:00-05:00","address":[{"postalCode":"LS1 4AP"}]}"#,
            // 2: an NHS number failing the modulus 11 check.
            r#"{"resourceType":"Patient","id":"p2","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"1234567890"}],"gender":"female","birthDate":"1980"}"#,
            // 3: not JSON.
            r#"{"resourceType":"Patient","id":"p3""#,
        ],
    );
    write(
        "Condition.000.ndjson",
        &[
            // 1: a non-SNOMED coding first, then SNOMED; onset with an offset.
            r#"{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11"},{"system":"http://snomed.info/sct","code":"44054006"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2024-03-31T23:30:00-05:00"}"#,
            // 2: a urn:uuid subject; only a recordedDate.
            r#"{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},"subject":{"reference":"urn:uuid:p2"},"recordedDate":"2023-01-01"}"#,
            // 3: ICD-10 only.
            r#"{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]},"subject":{"reference":"Patient/p2"},"onsetDateTime":"2023-01-01"}"#,
        ],
    );
    write(
        "Observation.000.ndjson",
        &[
            // 1: systolic blood pressure with a value.
            r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-05T10:00:00+01:00","valueQuantity":{"value":140,"unit":"mmHg"}}"#,
            // 2: no date at all.
            r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"subject":{"reference":"Patient/p2"}}"#,
        ],
    );
    write(
        "MedicationRequest.000.ndjson",
        &[
            // 1: dm+d, with a quantity (an issue: status active, intent order).
            r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"https://dmd.nhs.uk","code":"39732311000001104"}]},"subject":{"reference":"Patient/p1"},"authoredOn":"2024-02-01","dispenseRequest":{"quantity":{"value":28}}}"#,
            // 2: RxNorm only.
            r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"314076"}]},"subject":{"reference":"Patient/p1"},"authoredOn":"2024-02-01"}"#,
            // 3: as UK Core codes dm+d, under the SNOMED CT system.
            r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"860975"},{"system":"http://snomed.info/sct","code":"39113611000001102"}]},"subject":{"reference":"Patient/p2"},"authoredOn":"2024-03-01"}"#,
        ],
    );
    write(
        "EpisodeOfCare.000.ndjson",
        &[
            // 1: an open regular registration.
            r#"{"resourceType":"EpisodeOfCare","status":"active","patient":{"reference":"Patient/p1"},"managingOrganization":{"identifier":{"value":"A81001"}},"period":{"start":"2010-01-01"}}"#,
            // 2: a finished temporary one; FHIR's end is the last day.
            r#"{"resourceType":"EpisodeOfCare","status":"finished","type":[{"coding":[{"display":"Temporary resident"}]}],"patient":{"reference":"Patient/p2"},"managingOrganization":{"identifier":{"value":"A81001"}},"period":{"start":"2000-01-01","end":"2020-12-31"}}"#,
        ],
    );
    write(
        "Encounter.000.ndjson",
        &[r#"{"resourceType":"Encounter","id":"e1"}"#],
    );
    dir
}

#[tokio::test]
async fn maps_a_hand_made_export_with_its_warnings() {
    let dir = hand_made();
    let (records, extraction) = extract(dir.path(), &all_tables()).await;
    // Read: 3 conditions, 2 episodes, 3 medication requests, 2 observations,
    // 3 patient lines; mapped: 2 + 2 + 2 + 1 + 2.
    assert_eq!(extraction.summary.records_read, 13);
    assert_eq!(extraction.summary.records_mapped, 9);
    assert_eq!(records.len(), 9);

    let patient = |id: &str| {
        records
            .iter()
            .find_map(|r| match r {
                Record::Patient(p) if p.id == id => Some(p.clone()),
                _ => None,
            })
            .expect("patient mapped")
    };
    let p1 = patient("p1");
    assert_eq!(p1.nhs_number.as_deref(), Some("9434765919"));
    assert_eq!(
        p1.date_of_birth,
        Some(Date::new(1950, 7, 1, Precision::Month).expect("valid"))
    );
    // 23:30 at -05:00 is 04:30 on 1 April in UTC: the local date is kept.
    assert_eq!(
        p1.date_of_death,
        Some(Date::ymd(2024, 3, 31).expect("valid"))
    );
    assert_eq!(p1.postcode.as_deref(), Some("LS1 4AP"));
    assert_eq!(p1.sex, Sex::Male);
    let p2 = patient("p2");
    assert_eq!(p2.nhs_number, None, "an invalid NHS number is left out");
    assert_eq!(
        p2.date_of_birth,
        Some(Date::new(1980, 1, 1, Precision::Year).expect("valid"))
    );

    let mut events: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some((
                e.patient_id.clone(),
                e.code,
                e.date.to_string(),
                e.value,
                e.unit.clone(),
            )),
            _ => None,
        })
        .collect();
    events.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    assert_eq!(
        events,
        [
            ("p1".into(), 44054006, "2024-03-31".into(), None, None),
            (
                "p1".into(),
                271649006,
                "2024-01-05".into(),
                Some(140.0),
                Some("mmHg".into())
            ),
            ("p2".into(), 38341003, "2023-01-01".into(), None, None),
        ]
    );
    let meds: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Medication(m) => Some((m.patient_id.clone(), m.code, m.quantity)),
            _ => None,
        })
        .collect();
    assert_eq!(
        meds,
        [
            ("p1".into(), 39732311000001104, Some(28.0)),
            ("p2".into(), 39113611000001102, None)
        ]
    );
    let mut regs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Registration(g) => Some((
                g.patient_id.clone(),
                g.practice.clone(),
                g.start.to_string(),
                g.end.map(|d| d.to_string()),
                g.kind,
            )),
            _ => None,
        })
        .collect();
    regs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        regs,
        [
            (
                "p1".into(),
                "A81001".into(),
                "2010-01-01".into(),
                None,
                RegistrationType::Regular
            ),
            (
                "p2".into(),
                "A81001".into(),
                "2000-01-01".into(),
                Some("2021-01-01".into()),
                RegistrationType::Temporary
            ),
        ]
    );

    use WarningKind::*;
    let without_malformed: Vec<_> = warnings(&extraction)
        .into_iter()
        .filter(|w| w.1 != MalformedLine)
        .collect();
    assert_eq!(
        without_malformed,
        owned(&[
            (
                "Condition.000.ndjson",
                UnknownCodeSystem,
                1,
                3,
                "Condition: no SNOMED CT coding",
            ),
            (
                "Encounter.000.ndjson",
                Other,
                1,
                0,
                "Encounter: not used (file not opened)",
            ),
            (
                "MedicationRequest.000.ndjson",
                UnknownCodeSystem,
                1,
                2,
                "MedicationRequest: no dm+d coding (RxNorm only)",
            ),
            (
                "Observation.000.ndjson",
                BadDate,
                1,
                2,
                "Observation: no date",
            ),
            (
                "Patient.000.ndjson",
                BadNhsNumber,
                1,
                2,
                "Patient: NHS number fails the modulus 11 check; left out",
            ),
        ])
    );
    let malformed: Vec<_> = extraction
        .summary
        .warnings
        .iter()
        .filter(|w| w.kind == MalformedLine)
        .collect();
    assert_eq!(malformed.len(), 1);
    assert_eq!(
        (
            malformed[0].file.as_str(),
            malformed[0].line,
            malformed[0].count
        ),
        ("Patient.000.ndjson", 3, 1)
    );
    assert!(
        malformed[0]
            .message
            .starts_with("malformed line: not valid JSON"),
        "{}",
        malformed[0].message
    );
}

#[tokio::test]
async fn events_are_filtered_by_code_set_and_window_at_the_source() {
    let dir = hand_made();
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients],
        code_sets: vec![CodeSet {
            table: Table::Events,
            // Diabetes (44054006) and hypertension (38341003), from 2024.
            codes: vec![44054006, 38341003],
            earliest: Some(Date::ymd(2024, 1, 1).expect("valid")),
            latest: Some(Date::ymd(2024, 12, 31).expect("valid")),
            policy: false,
        }],
    };
    let (records, extraction) = extract(dir.path(), &request).await;
    let events: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some((e.patient_id.as_str(), e.code)),
            _ => None,
        })
        .collect();
    // p2's hypertension is dated 2023; the blood pressure is another code.
    assert_eq!(events, [("p1", 44054006)]);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.table() == Table::Patients)
            .count(),
        2
    );
    // Neither medications nor registrations were asked for: not opened.
    let names: Vec<&str> = extraction
        .fingerprint
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Condition.000.ndjson",
            "Observation.000.ndjson",
            "Patient.000.ndjson"
        ]
    );
    // Read: 3 conditions, 2 observations, 3 patient lines; mapped: 1 event
    // and 2 patients.
    assert_eq!(extraction.summary.records_read, 8);
    assert_eq!(extraction.summary.records_mapped, 3);
}

#[tokio::test]
async fn an_export_without_patients_fails_when_patients_are_needed() {
    let dir = hand_made();
    std::fs::remove_file(dir.path().join("Patient.000.ndjson")).expect("remove");
    let err = plugin(gpes_plugin_artifacts::FHIR_NDJSON)
        .extract(dir.path(), &all_tables(), &Limits::default(), |_| {})
        .await
        .expect_err("no Patient file fails the extraction");
    assert!(err.to_string().contains("no Patient file"), "{err}");
}

/// A folder holding `files`, each a list of NDJSON lines.
fn export(files: &[(&str, &[&str])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, lines) in files {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

/// An open regular registration at the practice, as an EpisodeOfCare line.
fn episode(patient: &str) -> String {
    format!(
        r#"{{"resourceType":"EpisodeOfCare","status":"active","patient":{{"reference":"Patient/{patient}"}},"managingOrganization":{{"identifier":{{"value":"{PRACTICE}"}}}},"period":{{"start":"2000-01-01"}}}}"#
    )
}

#[tokio::test]
async fn a_death_without_a_date_is_a_death_of_unknown_date_with_a_warning() {
    let episodes: Vec<String> = ["dead", "alive", "bad-date", "dated"]
        .iter()
        .map(|p| episode(p))
        .collect();
    let episodes: Vec<&str> = episodes.iter().map(String::as_str).collect();
    let dir = export(&[
        (
            "Patient.000.ndjson",
            &[
                // 1: FHIR says dead, with no date.
                r#"{"resourceType":"Patient","id":"dead","gender":"male","birthDate":"1930-01-01","deceasedBoolean":true}"#,
                // 2: deceasedBoolean false: alive.
                r#"{"resourceType":"Patient","id":"alive","gender":"female","birthDate":"1960-01-01","deceasedBoolean":false}"#,
                // 3: a death whose date is not a date: dead all the same.
                r#"{"resourceType":"Patient","id":"bad-date","gender":"female","birthDate":"1940-01-01","deceasedDateTime":"last spring"}"#,
                // 4: a dated death, before the reference date.
                r#"{"resourceType":"Patient","id":"dated","gender":"male","birthDate":"1935-01-01","deceasedDateTime":"2024-01-02"}"#,
            ],
        ),
        ("EpisodeOfCare.000.ndjson", &episodes),
    ]);
    let (records, extraction) = extract(dir.path(), &all_tables()).await;
    let death = |id: &str| {
        records
            .iter()
            .find_map(|r| match r {
                Record::Patient(p) if p.id == id => Some((p.date_of_death, p.death_date_unknown)),
                _ => None,
            })
            .expect("patient mapped")
    };
    assert_eq!(death("dead"), (None, true));
    assert_eq!(death("alive"), (None, false));
    assert_eq!(death("bad-date"), (None, true));
    assert_eq!(
        death("dated"),
        (Some(Date::ymd(2024, 1, 2).expect("valid")), false)
    );
    use WarningKind::BadDate;
    assert_eq!(
        warnings(&extraction),
        owned(&[
            (
                "Patient.000.ndjson",
                BadDate,
                1,
                1,
                "Patient: deceasedBoolean true without a date; recorded as dead on an unknown date",
            ),
            (
                "Patient.000.ndjson",
                BadDate,
                1,
                3,
                "Patient: deceasedDateTime is not a date; recorded as dead on an unknown date",
            ),
        ])
    );
    // The count that moved: of four patients registered, only one is alive
    // on the reference date.
    let registered = Registered::of(&query().evaluate(&records));
    assert_eq!(registered.registered, 1);
}

/// An event as (patient, code, date, value, unit).
type EventRow = (String, u64, String, Option<f64>, Option<String>);

/// Events as rows, sorted.
fn events_of(records: &[Record]) -> Vec<EventRow> {
    let mut events: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some((
                e.patient_id.clone(),
                e.code,
                e.date.to_string(),
                e.value,
                e.unit.clone(),
            )),
            _ => None,
        })
        .collect();
    events.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    events
}

const SYSTOLIC: u64 = 271649006;
const DIASTOLIC: u64 = 271650006;

/// Blood pressure panels: one Observation, two components.
fn panels() -> tempfile::TempDir {
    export(&[
        (
            "Patient.000.ndjson",
            &[r#"{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1950-01-01"}"#],
        ),
        (
            "Observation.000.ndjson",
            &[
                // 1: as Synthea writes it: LOINC only, panel and components.
                r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel with all children optional"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-01-10T09:00:00+00:00","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mm[Hg]"}}]}"#,
                // 2: SNOMED CT panel 163020007, components 72313002 and
                // 1091811000000102 (the model's readings are 271649006 and
                // 271650006).
                r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"163020007"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-06-01","component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"72313002"}]},"valueQuantity":{"value":150,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://snomed.info/sct","code":"1091811000000102"}]},"valueQuantity":{"value":95,"unit":"mmHg"}}]}"#,
                // 3: panel 75367002; the diastolic has no value.
                r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-07-01","component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":135,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271650006"}]},"dataAbsentReason":{"text":"not measured"}}]}"#,
                // 4: a component of a code the adapter does not know (LOINC
                // mean blood pressure) beside a systolic.
                r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-08-01","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8478-0"}]},"valueQuantity":{"value":97,"unit":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mm[Hg]"}}]}"#,
                // 5: a panel before the window of the filtered request.
                r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2023-01-01","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":170,"unit":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":100,"unit":"mm[Hg]"}}]}"#,
            ],
        ),
    ])
}

#[tokio::test]
async fn blood_pressure_panels_become_one_event_per_reading() {
    let dir = panels();
    let p1 = |code, date: &str, value, unit: &str| {
        (
            "p1".to_owned(),
            code,
            date.to_owned(),
            Some(value),
            Some(unit.to_owned()),
        )
    };
    let expected_warnings = owned(&[
        // In the order of `warnings`: by file, then message.
        (
            "Observation.000.ndjson",
            WarningKind::UnknownCodeSystem,
            1,
            4,
            "Observation: component with no SNOMED CT coding and not a known blood pressure reading",
        ),
        (
            "Observation.000.ndjson",
            WarningKind::BadValue,
            1,
            3,
            "Observation: component without a value",
        ),
    ]);

    // Everything.
    let (records, extraction) = extract(dir.path(), &all_but_registrations()).await;
    assert_eq!(
        events_of(&records),
        [
            p1(SYSTOLIC, "2023-01-01", 170.0, "mm[Hg]"),
            p1(SYSTOLIC, "2024-06-01", 150.0, "mmHg"),
            p1(SYSTOLIC, "2024-07-01", 135.0, "mmHg"),
            p1(SYSTOLIC, "2024-08-01", 120.0, "mm[Hg]"),
            p1(SYSTOLIC, "2025-01-10", 128.0, "mm[Hg]"),
            p1(DIASTOLIC, "2023-01-01", 100.0, "mm[Hg]"),
            p1(DIASTOLIC, "2024-06-01", 95.0, "mmHg"),
            p1(DIASTOLIC, "2025-01-10", 82.0, "mm[Hg]"),
        ]
    );
    assert_eq!(extraction.summary.records_read, 6);
    assert_eq!(extraction.summary.records_mapped, 9);
    assert_eq!(warnings(&extraction), expected_warnings);

    // Only the two readings in HYP008's window, as the engine asks for
    // them: SNOMED CT ids that no LOINC-coded line contains.
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients],
        code_sets: vec![CodeSet {
            table: Table::Events,
            codes: vec![SYSTOLIC, DIASTOLIC],
            earliest: Some(Date::ymd(2024, 4, 1).expect("valid")),
            latest: Some(Date::ymd(2025, 3, 31).expect("valid")),
            policy: false,
        }],
    };
    let (records, extraction) = extract(dir.path(), &request).await;
    assert_eq!(
        events_of(&records),
        [
            p1(SYSTOLIC, "2024-06-01", 150.0, "mmHg"),
            p1(SYSTOLIC, "2024-07-01", 135.0, "mmHg"),
            p1(SYSTOLIC, "2024-08-01", 120.0, "mm[Hg]"),
            p1(SYSTOLIC, "2025-01-10", 128.0, "mm[Hg]"),
            p1(DIASTOLIC, "2024-06-01", 95.0, "mmHg"),
            p1(DIASTOLIC, "2025-01-10", 82.0, "mm[Hg]"),
        ]
    );
    assert_eq!(warnings(&extraction), expected_warnings);

    // Only the diastolic: the systolic components are not wanted.
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![],
        code_sets: vec![CodeSet {
            table: Table::Events,
            codes: vec![DIASTOLIC],
            earliest: None,
            latest: None,
            policy: false,
        }],
    };
    let (records, _) = extract(dir.path(), &request).await;
    assert_eq!(
        events_of(&records)
            .iter()
            .map(|e| (e.1, e.3))
            .collect::<Vec<_>>(),
        [
            (DIASTOLIC, Some(100.0)),
            (DIASTOLIC, Some(95.0)),
            (DIASTOLIC, Some(82.0))
        ]
    );
}

/// Expected warnings in the order of `warnings`: by file, then message.
fn sorted(
    rows: &[(&str, WarningKind, u64, u64, &str)],
) -> Vec<(String, WarningKind, u64, u64, String)> {
    let mut rows = owned(rows);
    rows.sort_by(|a, b| (&a.0, &a.4).cmp(&(&b.0, &b.4)));
    rows
}

/// A folder with patient p1 and one file of `resource_type` holding `lines`.
fn export_of(resource_type: &str, lines: &[String]) -> tempfile::TempDir {
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    export(&[
        (
            "Patient.000.ndjson",
            &[r#"{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1950-01-01"}"#],
        ),
        (&format!("{resource_type}.000.ndjson"), &lines),
    ])
}

#[tokio::test]
async fn conditions_not_confirmed_or_not_current_are_left_out_and_counted() {
    // Line n is dated 2024-01-n; a status of "" is absent.
    let statuses = [
        ("confirmed", "active"),     // 1: kept
        ("", ""),                    // 2: kept
        ("refuted", ""),             // 3
        ("unconfirmed", ""),         // 4
        ("provisional", "active"),   // 5
        ("differential", ""),        // 6
        ("confirmed", "resolved"),   // 7
        ("", "inactive"),            // 8
        ("confirmed", "remission"),  // 9
        ("confirmed", "recurrence"), // 10: kept
        ("", "relapse"),             // 11: kept
        ("maybe", ""),               // 12: not a FHIR code
        ("", "gone"),                // 13: not a FHIR code
        ("entered-in-error", ""),    // 14
    ];
    let status = |field: &str, system: &str, code: &str| {
        if code.is_empty() {
            String::new()
        } else {
            format!(
                r#","{field}":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/{system}","code":"{code}"}}]}}"#
            )
        }
    };
    let mut lines: Vec<String> = statuses
        .iter()
        .enumerate()
        .map(|(i, (verification, clinical))| {
            format!(
                r#"{{"resourceType":"Condition"{}{},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"44054006"}}]}},"subject":{{"reference":"Patient/p1"}},"onsetDateTime":"2024-01-{:02}"}}"#,
                status("verificationStatus", "condition-ver-status", verification),
                status("clinicalStatus", "condition-clinical", clinical),
                i + 1
            )
        })
        .collect();
    // 15: resolved, of a code the filtered request below does not want.
    lines.push(r#"{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"resolved"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2024-02-01"}"#.into());
    let dir = export_of("Condition", &lines);
    let kept = |records: &[Record]| -> Vec<String> {
        events_of(records).into_iter().map(|e| e.2).collect()
    };
    let f = "Condition.000.ndjson";
    use WarningKind::{BadValue, Other};
    let resolved = (
        f,
        Other,
        1,
        7,
        "Condition: clinicalStatus resolved (the model has no resolution event)",
    );
    let expected = vec![
        (
            f,
            Other,
            1,
            8,
            "Condition: clinicalStatus inactive (the model has no resolution event)",
        ),
        (
            f,
            BadValue,
            1,
            13,
            "Condition: clinicalStatus is not a condition-clinical code",
        ),
        (
            f,
            Other,
            1,
            9,
            "Condition: clinicalStatus remission (the model has no resolution event)",
        ),
        resolved,
        (f, Other, 1, 14, "Condition: entered in error"),
        (
            f,
            Other,
            1,
            6,
            "Condition: verificationStatus differential, not a confirmed diagnosis",
        ),
        (
            f,
            BadValue,
            1,
            12,
            "Condition: verificationStatus is not a condition-ver-status code",
        ),
        (
            f,
            Other,
            1,
            5,
            "Condition: verificationStatus provisional, not a confirmed diagnosis",
        ),
        (f, Other, 1, 3, "Condition: verificationStatus refuted"),
        (
            f,
            Other,
            1,
            4,
            "Condition: verificationStatus unconfirmed, not a confirmed diagnosis",
        ),
    ];

    let (records, extraction) = extract(dir.path(), &all_but_registrations()).await;
    assert_eq!(
        kept(&records),
        ["2024-01-01", "2024-01-02", "2024-01-10", "2024-01-11"]
    );
    // Line 15 too: resolved, counted under the same reason as line 7.
    let with_15: Vec<_> = expected
        .iter()
        .map(|w| {
            if *w == resolved {
                (w.0, w.1, 2, w.3, w.4)
            } else {
                *w
            }
        })
        .collect();
    assert_eq!(warnings(&extraction), sorted(&with_15));

    // Under a request for diabetes only, line 15 is skipped silently.
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients],
        code_sets: vec![CodeSet {
            table: Table::Events,
            codes: vec![44054006],
            earliest: None,
            latest: None,
            policy: false,
        }],
    };
    let (records, extraction) = extract(dir.path(), &request).await;
    assert_eq!(
        kept(&records),
        ["2024-01-01", "2024-01-02", "2024-01-10", "2024-01-11"]
    );
    assert_eq!(warnings(&extraction), sorted(&expected));
}

#[tokio::test]
async fn only_medication_requests_that_were_issued_are_medications() {
    // Line n is authored on 2024-02-n; a status or intent of "" is absent.
    let cases = [
        ("active", "order"),             // 1: kept
        ("completed", "order"),          // 2: kept
        ("stopped", "order"),            // 3: kept
        ("completed", "original-order"), // 4: kept
        ("completed", "reflex-order"),   // 5: kept
        ("completed", "filler-order"),   // 6: kept
        ("completed", "instance-order"), // 7: kept
        ("on-hold", "order"),            // 8
        ("cancelled", "order"),          // 9
        ("draft", "order"),              // 10
        ("unknown", "order"),            // 11
        ("active", "plan"),              // 12
        ("active", "proposal"),          // 13
        ("completed", "option"),         // 14
        ("", "order"),                   // 15
        ("done", "order"),               // 16
        ("active", ""),                  // 17
        ("entered-in-error", "order"),   // 18
    ];
    let field = |name: &str, value: &str| {
        if value.is_empty() {
            String::new()
        } else {
            format!(r#","{name}":"{value}""#)
        }
    };
    let lines: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (status, intent))| {
            format!(
                r#"{{"resourceType":"MedicationRequest"{}{},"medicationCodeableConcept":{{"coding":[{{"system":"https://dmd.nhs.uk","code":"39732311000001104"}}]}},"subject":{{"reference":"Patient/p1"}},"authoredOn":"2024-02-{:02}","dispenseRequest":{{"quantity":{{"value":28}}}}}}"#,
                field("status", status),
                field("intent", intent),
                i + 1
            )
        })
        .collect();
    let statements: Vec<String> = ["completed", "active", "not-taken", "intended"]
        .iter()
        .enumerate()
        .map(|(i, status)| {
            format!(
                r#"{{"resourceType":"MedicationStatement","status":"{status}","medicationCodeableConcept":{{"coding":[{{"system":"https://dmd.nhs.uk","code":"39732311000001104"}}]}},"subject":{{"reference":"Patient/p1"}},"effectiveDateTime":"2024-03-{:02}"}}"#,
                i + 1
            )
        })
        .collect();
    let dir = export_of("MedicationRequest", &lines);
    std::fs::write(
        dir.path().join("MedicationStatement.000.ndjson"),
        statements.join("\n"),
    )
    .expect("write");
    let (records, extraction) = extract(dir.path(), &all_but_registrations()).await;
    let dates: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Medication(m) => Some(m.date.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        dates,
        [
            "2024-02-01",
            "2024-02-02",
            "2024-02-03",
            "2024-02-04",
            "2024-02-05",
            "2024-02-06",
            "2024-02-07",
            "2024-03-01",
            "2024-03-02"
        ]
    );
    let (r, s) = (
        "MedicationRequest.000.ndjson",
        "MedicationStatement.000.ndjson",
    );
    use WarningKind::{BadValue, Other};
    assert_eq!(
        warnings(&extraction),
        sorted(&[
            (r, Other, 1, 18, "MedicationRequest: entered in error"),
            (
                r,
                Other,
                1,
                14,
                "MedicationRequest: intent option, not an issue"
            ),
            (
                r,
                Other,
                1,
                12,
                "MedicationRequest: intent plan, not an issue"
            ),
            (
                r,
                Other,
                1,
                13,
                "MedicationRequest: intent proposal, not an issue"
            ),
            (
                r,
                BadValue,
                1,
                17,
                "MedicationRequest: no intent, or not a medicationrequest-intent code",
            ),
            (
                r,
                BadValue,
                2,
                15,
                "MedicationRequest: no status, or not a medicationrequest-status code",
            ),
            (
                r,
                Other,
                1,
                9,
                "MedicationRequest: status cancelled, not an issue"
            ),
            (
                r,
                Other,
                1,
                10,
                "MedicationRequest: status draft, not an issue"
            ),
            (
                r,
                Other,
                1,
                8,
                "MedicationRequest: status on-hold, not known to have been issued",
            ),
            (
                r,
                Other,
                1,
                11,
                "MedicationRequest: status unknown, not an issue"
            ),
            (
                s,
                Other,
                1,
                4,
                "MedicationStatement: status intended, not yet taken"
            ),
            (s, Other, 1, 3, "MedicationStatement: status not-taken"),
        ])
    );
}
