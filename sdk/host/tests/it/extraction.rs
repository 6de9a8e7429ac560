use crate::common::*;
use gpes_host::{ExtractionError, Limits};
use gpes_model::{CodeSet, Date, Record, Request, Table, WarningKind};
use gpes_query::Evaluation;

#[tokio::test]
async fn counts_the_registered_patients_of_a_small_practice() {
    let dir = practice();
    let (count, extraction) = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect("extraction succeeds");
    // See plugins/csv-export/testdata/a81001/README.md for why each counts.
    assert_eq!(count.registered, 8);
    assert_eq!(count.registrations_without_patient, 0);
    // 14 patients and 16 registrations, all mapped, nothing to warn about.
    assert_eq!(extraction.summary.records_read, 30);
    assert_eq!(extraction.summary.records_mapped, 30);
    assert_eq!(extraction.records, 30);
    assert!(
        extraction.summary.warnings.is_empty(),
        "{:?}",
        extraction.summary.warnings
    );
    // Only what the query needs was opened.
    let names: Vec<&str> = extraction
        .fingerprint
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["patients.csv", "registrations.csv"]);
}

#[tokio::test]
async fn describe_says_what_the_plugin_is() {
    let info = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .describe(&Limits::default())
        .await
        .expect("describe works");
    assert_eq!(info.name, "csv-export");
    assert_eq!(info.data_model_version, gpes_model::DATA_MODEL_VERSION);
}

#[tokio::test]
async fn events_are_filtered_by_code_and_window_at_the_source() {
    let dir = practice();
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![],
        code_sets: vec![CodeSet {
            table: Table::Events,
            // Diabetes (44054006) and hypertension (38341003).
            codes: vec![44054006, 38341003],
            earliest: Some(Date::ymd(2024, 6, 1).expect("valid")),
            latest: Some(reference_date()),
            policy: false,
        }],
    };
    let mut events = Vec::new();
    let extraction = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .extract(dir.path(), &request, &Limits::default(), |r| {
            if let Record::Event(e) = r {
                events.push((e.patient_id, e.code));
            }
        })
        .await
        .expect("extraction succeeds");
    events.sort();
    // p07's hypertension code is dated before the window; the rest are
    // other codes.
    assert_eq!(
        events,
        [("p01".to_string(), 44054006), ("p12".to_string(), 44054006)]
    );
    assert_eq!(extraction.summary.records_read, 6);
    assert_eq!(extraction.summary.records_mapped, 2);
}

#[tokio::test]
async fn a_missing_file_fails_the_extraction_naming_it() {
    let dir = practice();
    std::fs::remove_file(path(&dir, "registrations.csv")).expect("remove");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("a missing file fails");
    match &err {
        ExtractionError::Plugin { file, message } => {
            assert_eq!(file.as_deref(), Some("registrations.csv"));
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn a_file_without_the_expected_header_fails_the_extraction() {
    let dir = practice();
    std::fs::write(path(&dir, "patients.csv"), b"").expect("write");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("an empty file fails");
    assert!(
        matches!(&err, ExtractionError::Plugin { file: Some(f), .. } if f == "patients.csv"),
        "{err}"
    );
    std::fs::write(path(&dir, "patients.csv"), b"id,nhs\np1,\n").expect("write");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("a wrong header fails");
    assert!(
        err.to_string().contains("expected 'patient_id,nhs_number"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_line_is_a_counted_warning_naming_file_and_line() {
    let dir = practice();
    let regs = path(&dir, "registrations.csv");
    let mut text = std::fs::read_to_string(&regs).expect("read");
    // Line 18: a date that does not exist; line 19: too few fields; line 20:
    // a registration type the format does not have.
    text.push_str("p15,A81001,2023-02-30,,regular\n");
    text.push_str("p16,A81001\n");
    text.push_str("p17,A81001,2020-01-01,,permanent\n");
    std::fs::write(&regs, text).expect("write");
    let (count, extraction) = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect("bad lines do not fail the extraction");
    assert_eq!(count.registered, 8, "bad lines are left out");
    let s = &extraction.summary;
    assert_eq!(s.records_read, 33);
    assert_eq!(s.records_mapped, 30);
    let w = |kind| {
        s.warnings
            .iter()
            .find(|w| w.kind == kind)
            .unwrap_or_else(|| panic!("a {kind:?} warning in {:?}", s.warnings))
    };
    assert_eq!(
        (
            w(WarningKind::BadDate).file.as_str(),
            w(WarningKind::BadDate).line
        ),
        ("registrations.csv", 18)
    );
    assert_eq!(w(WarningKind::BadDate).count, 1);
    assert_eq!(w(WarningKind::MalformedLine).line, 19);
    assert_eq!(w(WarningKind::BadValue).line, 20);
    assert_eq!(s.warnings.len(), 3);
}

#[tokio::test]
async fn a_bad_nhs_number_is_dropped_and_the_patient_kept() {
    let dir = practice();
    let patients = path(&dir, "patients.csv");
    let text = std::fs::read_to_string(&patients).expect("read");
    // p01's number with its check digit changed.
    let first_number = text
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(1))
        .expect("p01 has a number")
        .to_string();
    let mut bad = first_number.clone();
    let last = bad.pop().expect("ten digits");
    bad.push(if last == '0' { '1' } else { '0' });
    std::fs::write(&patients, text.replacen(&first_number, &bad, 1)).expect("write");
    let q = query();
    let mut p01_number = Some(String::from("unset"));
    let mut e = q.evaluation();
    let extraction = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .extract(dir.path(), &request_for(&q), &Limits::default(), |r| {
            if let Record::Patient(p) = &r
                && p.id == "p01"
            {
                p01_number = p.nhs_number.clone();
            }
            e.push(&r);
        })
        .await
        .expect("extraction succeeds");
    assert_eq!(p01_number, None);
    assert_eq!(e.finish().registered, 8, "counts do not move");
    assert_eq!(extraction.summary.warnings_of(WarningKind::BadNhsNumber), 1);
}
