use crate::common::*;
use gpes_host::{ExtractionError, HOST_CHECKS, Limits};
use gpes_model::{
    CodeSet, Date, Precision, Record, RegistrationType, Request, Sex, Table, WarningKind,
};

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
    // 14 patients and 16 registrations, all mapped; the one registration
    // at another practice (p05's, at B82002) is the only warning.
    assert_eq!(extraction.summary.records_read, 30);
    assert_eq!(extraction.summary.records_mapped, 30);
    assert_eq!(extraction.records, 30);
    let warnings = &extraction.summary.warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].file, "(host checks)", "{warnings:?}");
    // Only what the query needs was opened.
    let names: Vec<&str> = extraction
        .fingerprint
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["Patient.csv", "Registration.csv"]);
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
    std::fs::remove_file(path(&dir, "Registration.csv")).expect("remove");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("a missing file fails");
    match &err {
        ExtractionError::Plugin { file, message } => {
            assert_eq!(file.as_deref(), Some("Registration.csv"));
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("expected the plugin's own error, got {other:?}"),
    }
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn a_file_without_the_expected_header_fails_the_extraction() {
    let dir = practice();
    std::fs::write(path(&dir, "Patient.csv"), b"").expect("write");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("an empty file fails");
    assert!(
        matches!(&err, ExtractionError::Plugin { file: Some(f), .. } if f == "Patient.csv"),
        "{err}"
    );
    std::fs::write(path(&dir, "Patient.csv"), b"id,nhs\np1,\n").expect("write");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("a wrong header fails");
    assert!(
        err.to_string().contains("expected 'PatientGuid,NhsNumber"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_line_is_a_counted_warning_naming_file_and_line() {
    let dir = practice();
    let regs = path(&dir, "Registration.csv");
    let mut text = std::fs::read_to_string(&regs).expect("read");
    // Line 18: a date that does not exist; line 19: too few fields; line 20:
    // a registration type the format does not have.
    text.push_str("p15,A81001,30/02/2023,,GMS\n");
    text.push_str("p16,A81001\n");
    text.push_str("p17,A81001,01/01/2020,,PERM\n");
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
        ("Registration.csv", 18)
    );
    assert_eq!(w(WarningKind::BadDate).count, 1);
    assert_eq!(
        w(WarningKind::BadDate).message,
        "column RegisteredDate: 2023-02 has no day 30"
    );
    assert_eq!(w(WarningKind::MalformedLine).line, 19);
    assert_eq!(w(WarningKind::BadValue).line, 20);
    assert_eq!(
        w(WarningKind::BadValue).message,
        "column RegistrationType: 'PERM' is not GMS or TEMP"
    );
    // Beside the host's one for the registration at B82002.
    assert_eq!(s.warnings.len(), 4, "{:?}", s.warnings);
}

#[tokio::test]
async fn supplier_codes_dates_and_values_are_mapped_or_warned_about() {
    let dir = practice();
    let obs = path(&dir, "Observation.csv");
    let mut text = std::fs::read_to_string(&obs).expect("read");
    // Line 8: a Read v2 code, which has no map to SNOMED CT; line 9: a code
    // system the format does not have; line 10: a wanted code with an ISO
    // date; line 11: an ISO date too, but a code the request does not want,
    // so filtered out before the date is looked at.
    text.push_str("p01,02/11/2024,READ2,C10..,,\n");
    text.push_str("p01,02/11/2024,XYZ,44054006,,\n");
    text.push_str("p07,2024-11-02,SNOMED,38341003,,\n");
    text.push_str("p07,2024-11-02,SNOMED,72313002,140,mm[Hg]\n");
    std::fs::write(&obs, text).expect("write");
    let request = Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients, Table::Registrations],
        code_sets: vec![CodeSet {
            table: Table::Events,
            codes: vec![44054006, 38341003],
            earliest: Some(Date::ymd(2024, 6, 1).expect("valid")),
            latest: Some(reference_date()),
            policy: false,
        }],
    };
    let mut sexes = Vec::new();
    let mut kinds = Vec::new();
    let mut events = Vec::new();
    let extraction = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .extract(dir.path(), &request, &Limits::default(), |r| match r {
            Record::Patient(p) => sexes.push((p.id, p.sex, p.date_of_birth)),
            Record::Registration(r) => kinds.push((r.patient_id, r.kind)),
            Record::Event(e) => events.push((e.patient_id, e.code, e.date)),
            Record::Medication(_) => {}
        })
        .await
        .expect("extraction succeeds");
    let sex = |id: &str| sexes.iter().find(|s| s.0 == id).expect("patient").1;
    // Gender M, F, I (indeterminate) and U.
    assert_eq!(sex("p02"), Sex::Male);
    assert_eq!(sex("p01"), Sex::Female);
    assert_eq!(sex("p05"), Sex::Other);
    assert_eq!(sex("p09"), Sex::Unknown);
    // A DD/MM/YYYY date and a MM/YYYY one, known only to the month.
    assert_eq!(sexes[0].2, Some(Date::ymd(1960, 4, 12).expect("valid")));
    assert_eq!(
        sexes.iter().find(|s| s.0 == "p12").expect("p12").2,
        Some(Date::new(1950, 7, 1, Precision::Month).expect("valid"))
    );
    // RegistrationType TEMP is a temporary registration, GMS a regular one.
    assert!(kinds.contains(&("p03".into(), RegistrationType::Temporary)));
    assert!(kinds.contains(&("p01".into(), RegistrationType::Regular)));
    events.sort();
    assert_eq!(
        events,
        [
            (
                "p01".into(),
                44054006,
                Date::ymd(2024, 11, 2).expect("valid")
            ),
            (
                "p12".into(),
                44054006,
                Date::ymd(2025, 3, 1).expect("valid")
            ),
        ]
    );
    let s = &extraction.summary;
    // 14 patients, 16 registrations and 10 observation lines.
    assert_eq!(s.records_read, 40);
    assert_eq!(s.records_mapped, 32);
    // The plugin's own warnings (the host's concern the registration at
    // another practice, tested elsewhere).
    let found: Vec<(WarningKind, &str, u64, &str)> = s
        .warnings
        .iter()
        .filter(|w| w.file != "(host checks)")
        .map(|w| (w.kind, w.file.as_str(), w.line, w.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                WarningKind::BadDate,
                "Observation.csv",
                10,
                "column EffectiveDate: '2024-11-02' is not a date in the form DD/MM/YYYY, MM/YYYY or YYYY"
            ),
            (
                WarningKind::UnmappableCode,
                "Observation.csv",
                8,
                "no map from READ2 to SNOMED CT"
            ),
            (
                WarningKind::UnknownCodeSystem,
                "Observation.csv",
                9,
                "column CodeSystem: 'XYZ' is not one of SNOMED, READ2, CTV3, EMIS"
            ),
        ]
    );
}

#[tokio::test]
async fn a_bad_nhs_number_is_dropped_and_the_patient_kept() {
    let dir = practice();
    let patients = path(&dir, "Patient.csv");
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
    assert_eq!(
        Registered::of(&e.finish()).registered,
        8,
        "counts do not move"
    );
    assert_eq!(extraction.summary.warnings_of(WarningKind::BadNhsNumber), 1);
}

#[tokio::test]
async fn dates_after_today_or_before_birth_are_counted_by_the_host_and_kept() {
    let dir = practice();
    let observations = path(&dir, "Observation.csv");
    let mut text = std::fs::read_to_string(&observations).expect("read");
    // p01 (born 12/04/1960): two readings from the future, one from before
    // birth, and one in 1960 given only as a year (it may be after the
    // birth: no warning).
    for line in [
        "p01,01/01/2999,SNOMED,999791000000106,50,mmol/mol",
        "p01,02/2999,SNOMED,999791000000106,51,mmol/mol",
        "p01,01/01/1950,SNOMED,999791000000106,52,mmol/mol",
        "p01,1960,SNOMED,999791000000106,53,mmol/mol",
    ] {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&observations, text).expect("write");
    let mut records = 0;
    let extraction = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .extract(
            dir.path(),
            &Request {
                practice: PRACTICE.into(),
                tables: Table::ALL.to_vec(),
                code_sets: vec![],
            },
            &Limits::default(),
            |_| records += 1,
        )
        .await
        .expect("extraction succeeds");
    assert_eq!(records, extraction.summary.records_mapped, "all kept");
    let host: Vec<_> = extraction
        .summary
        .warnings
        .iter()
        .filter(|w| w.file == "(host checks)" && w.kind == WarningKind::BadDate)
        .collect();
    assert_eq!(host.len(), 2, "{host:?}");
    assert!(host.iter().all(|w| w.kind == WarningKind::BadDate));
    assert_eq!(host[0].count, 2, "{host:?}");
    assert!(host[0].message.contains("after today"), "{host:?}");
    assert_eq!(host[1].count, 1, "one patient: {host:?}");
    assert!(host[1].message.contains("patient 'p01'"), "{host:?}");
}

/// Regression: a practice code that differs from the export's (another
/// code, or the same in lower case) gave every population 0, with no
/// warning. No registration naming the practice is now an error that says
/// which codes the export does name.
#[tokio::test]
async fn an_export_of_another_practice_fails_and_says_which_codes_it_names() {
    let dir = practice();
    for asked in ["C83003", "a81001"] {
        let result = plugin(gpes_plugin_artifacts::CSV_EXPORT)
            .extract(
                dir.path(),
                &Request {
                    practice: asked.into(),
                    tables: vec![Table::Patients, Table::Registrations],
                    code_sets: vec![],
                },
                &Limits::default(),
                |_| {},
            )
            .await;
        let err = result
            .expect_err("no registration names the practice")
            .to_string();
        assert!(err.contains(asked), "{err}");
        assert!(err.contains("A81001") && err.contains("B82002"), "{err}");
    }
}

/// Regression: registrations that name another practice were left to the
/// engine without a word. They are a counted warning listing the codes seen.
#[tokio::test]
async fn registrations_naming_another_practice_are_a_counted_warning() {
    let dir = practice();
    let (count, extraction) = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect("extraction succeeds");
    assert_eq!(count.registered, 8, "counts do not move");
    let other: Vec<_> = extraction
        .summary
        .warnings
        .iter()
        .filter(|w| w.message.contains("another practice"))
        .collect();
    assert_eq!(other.len(), 1, "{:?}", extraction.summary.warnings);
    assert_eq!(other[0].count, 1);
    assert!(other[0].message.contains("B82002"), "{other:?}");
}

#[tokio::test]
async fn a_repeated_patient_id_is_warned_on_every_line_and_kept_only_if_its_lines_agree() {
    let dir = practice();
    let patients = path(&dir, "Patient.csv");
    let mut text = std::fs::read_to_string(&patients).expect("read");
    // Line 16: p11 again, as on line 12; line 17: p01 again, born a year
    // later than on line 2; line 18: p11 a third time, with spaces that
    // map to the same record.
    text.push_str("p11,9434765706,17/05/1957,M,LS12 3HL,\n");
    text.push_str("p01,9434765005,12/04/1961,F,LS1 4AP,\n");
    text.push_str(" p11 ,9434765706, 17/05/1957 ,M, LS12 3HL ,\n");
    std::fs::write(&patients, text).expect("write");
    let q = query();
    let mut e = q.evaluation();
    let mut ids = Vec::new();
    let extraction = plugin(gpes_plugin_artifacts::CSV_EXPORT)
        .extract(dir.path(), &request_for(&q), &Limits::default(), |r| {
            if let Record::Patient(p) = &r {
                ids.push(p.id.clone());
            }
            e.push(&r);
        })
        .await
        .expect("a repeated id does not fail the extraction");
    ids.sort();
    // p11 once; p01's lines differ, so neither is used.
    assert_eq!(
        ids,
        [
            "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11", "p12", "p13",
            "p14"
        ]
    );
    let count = Registered::of(&e.finish());
    // p01's registration now has no patient: counted by the engine.
    assert_eq!(count.registered, 7);
    assert_eq!(count.registrations_without_patient, 1);
    let s = &extraction.summary;
    assert_eq!(s.records_read, 14 + 3 + 16);
    assert_eq!(s.records_mapped, 13 + 16);
    let mut found: Vec<(WarningKind, &str, u64, u64, &str)> = s
        .warnings
        .iter()
        .filter(|w| w.file != HOST_CHECKS)
        .map(|w| (w.kind, w.file.as_str(), w.line, w.count, w.message.as_str()))
        .collect();
    found.sort();
    // Every line of a repeated id is counted: p01's two, p11's three.
    assert_eq!(
        found,
        [
            (
                WarningKind::DuplicatePatient,
                "Patient.csv",
                2,
                2,
                "PatientGuid 'p01' is on lines 2 and 17, which differ: neither is used, so the \
                 patient has no patient record (every line of a repeated id is counted)"
            ),
            (
                WarningKind::DuplicatePatient,
                "Patient.csv",
                12,
                3,
                "PatientGuid 'p11' is on lines 12, 16 and 18, which agree: the patient is kept \
                 once (every line of a repeated id is counted)"
            ),
        ]
    );
}

/// One hostile input: bytes appended to files of the hand-made practice (or
/// a byte-order mark put before a file), what the plugin must warn about,
/// and the records the new lines give.
struct Hostile {
    name: &'static str,
    /// (file, bytes appended); `BOM` instead puts a byte-order mark first.
    append: &'static [(&'static str, &'static [u8])],
    /// (kind, file, first line, count) of every warning.
    warnings: &'static [(WarningKind, &'static str, u64, u64)],
    /// Records the new lines give.
    added: Vec<Record>,
    /// Patients whose record in the untouched files is no longer sent.
    lost: &'static [&'static str],
}

/// Put a UTF-8 byte-order mark before the file, rather than append.
const BOM: &[u8] = b"\xef\xbb\xbf";

fn hostile_cases() -> Vec<Hostile> {
    use WarningKind::*;
    const P: &str = "Patient.csv";
    const R: &str = "Registration.csv";
    const E: &str = "Observation.csv";
    const M: &str = "Medication.csv";
    let d = |y, m, day| Date::ymd(y, m, day).expect("valid");
    let patient = |id: &str, dob: Option<Date>, sex| {
        Record::Patient(gpes_model::Patient {
            id: id.into(),
            nhs_number: None,
            date_of_birth: dob,
            sex,
            postcode: None,
            date_of_death: None,
            death_date_unknown: false,
        })
    };
    let case = |name, append, warnings, added, lost| Hostile {
        name,
        append,
        warnings,
        added,
        lost,
    };
    vec![
        case(
            "a truncated line (fewer fields)",
            &[
                (P, b"p15,9434765919,12/04/1960\n"),
                (R, b"p15,A81001\n"),
            ],
            &[(MalformedLine, P, 16, 1), (MalformedLine, R, 18, 1)],
            vec![],
            &[],
        ),
        case(
            "a file cut off in its last line",
            &[(E, b"p01,02/11/2024,SNOMED")],
            &[(MalformedLine, E, 8, 1)],
            vec![],
            &[],
        ),
        case(
            "a byte-order mark at the start of a file",
            &[(P, BOM), (E, BOM)],
            &[],
            vec![],
            &[],
        ),
        case(
            "a byte-order mark or the header again inside a file (files joined)",
            &[
                (
                    P,
                    b"\xef\xbb\xbfp15,,,F,,\nPatientGuid,NhsNumber,DateOfBirth,Gender,Postcode,DateOfDeath\n",
                ),
                (E, b"\xef\xbb\xbfp01,02/11/2024,SNOMED,44054006,,\n"),
            ],
            &[(MalformedLine, P, 16, 2), (MalformedLine, E, 8, 1)],
            vec![],
            &[],
        ),
        case(
            "repeated patient ids",
            // p03 as on line 4; p04 without the NHS number line 5 has.
            &[(
                P,
                b"p03,9434765145,05/01/1988,F,M1 1AE,\np04,,02/11/1931,M,LS6 2QB,15/01/2025\n",
            )],
            &[(DuplicatePatient, P, 4, 2), (DuplicatePatient, P, 5, 2)],
            vec![],
            &["p04"],
        ),
        case(
            "bad NHS numbers",
            &[(
                P,
                b"p15,9434765918,,F,,\np16,94347659,,M,,\np17,943 476 5919,,M,,\np18,943476591X,,M,,\n",
            )],
            &[(BadNhsNumber, P, 16, 4)],
            vec![
                patient("p15", None, Sex::Female),
                patient("p16", None, Sex::Male),
                patient("p17", None, Sex::Male),
                patient("p18", None, Sex::Male),
            ],
            &[],
        ),
        case(
            "impossible dates",
            &[
                (
                    P,
                    b"p15,,31/02/2024,F,,\np16,,00/01/2024,M,,\np17,,2024-13,M,,\np18,,12/04/1960,F,,13/2024\n",
                ),
                (
                    R,
                    b"p15,A81001,31/02/2024,,GMS\np16,A81001,01/01/2020,00/01/2024,GMS\n",
                ),
                (
                    E,
                    b"p01,31/02/2024,SNOMED,44054006,,\np01,00/01/2024,SNOMED,44054006,,\np01,2024-13,SNOMED,44054006,,\np01,13/2024,SNOMED,44054006,,\n",
                ),
            ],
            &[
                (BadDate, P, 16, 4),
                (BadDate, R, 18, 2),
                (BadDate, E, 8, 4),
            ],
            vec![
                patient("p15", None, Sex::Female),
                patient("p16", None, Sex::Male),
                patient("p17", None, Sex::Male),
                patient("p18", Some(d(1960, 4, 12)), Sex::Female),
            ],
            &[],
        ),
        case(
            "unknown and lower-case code systems",
            &[
                (
                    E,
                    b"p01,02/11/2024,snomed,44054006,,\np01,02/11/2024,Snomed,44054006,,\np01,02/11/2024,SCT,44054006,,\np01,02/11/2024,read2,C10..,,\n",
                ),
                (M, b"p01,01/02/2025,dmd,39720311000001101,56\n"),
            ],
            &[(UnknownCodeSystem, E, 8, 4), (UnknownCodeSystem, M, 4, 1)],
            vec![],
            &[],
        ),
        case(
            "values that are not finite numbers",
            &[
                (
                    E,
                    b"p01,02/11/2024,SNOMED,44054006,NaN,\np01,02/11/2024,SNOMED,44054006,inf,\np01,02/11/2024,SNOMED,44054006,-infinity,\np01,02/11/2024,SNOMED,44054006,1e400,\n",
                ),
                (M, b"p01,01/02/2025,DMD,39720311000001101,NaN\n"),
            ],
            &[(BadValue, E, 8, 4), (BadValue, M, 4, 1)],
            vec![],
            &[],
        ),
        case(
            "codes with leading zeros or a sign",
            &[
                (
                    E,
                    b"p01,02/11/2024,SNOMED,044054006,,\np01,02/11/2024,SNOMED,+44054006,,\np01,02/11/2024,SNOMED,00,,\n",
                ),
                (M, b"p01,01/02/2025,DMD,039720311000001101,56\n"),
            ],
            &[(UnmappableCode, E, 8, 3), (UnmappableCode, M, 4, 1)],
            vec![],
            &[],
        ),
    ]
}

/// Every record's debug form, sorted: a multiset to compare.
fn multiset(records: impl IntoIterator<Item = Record>) -> Vec<String> {
    let mut v: Vec<String> = records.into_iter().map(|r| format!("{r:?}")).collect();
    v.sort();
    v
}

#[tokio::test]
async fn hostile_input_is_a_counted_warning_naming_file_and_line_and_moves_nothing_else() {
    let request = Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: vec![],
    };
    let csv = plugin(gpes_plugin_artifacts::CSV_EXPORT);
    let untouched = practice();
    let mut base = Vec::new();
    let base_extraction = csv
        .extract(untouched.path(), &request, &Limits::default(), |r| {
            base.push(r)
        })
        .await
        .expect("the untouched practice extracts");
    // The host's one warning, for the registration at another practice, is
    // in every case; the table below is of the plugin's.
    assert!(
        base_extraction
            .summary
            .warnings
            .iter()
            .all(|w| w.file == HOST_CHECKS)
    );
    for case in hostile_cases() {
        let dir = practice();
        let mut new_lines = 0;
        for (name, bytes) in case.append {
            let file = path(&dir, name);
            let mut text = std::fs::read(&file).expect("read");
            if *bytes == BOM {
                text.splice(0..0, BOM.iter().copied());
            } else {
                new_lines += bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                text.extend_from_slice(bytes);
            }
            std::fs::write(&file, text).expect("write");
        }
        let mut records = Vec::new();
        let extraction = csv
            .extract(dir.path(), &request, &Limits::default(), |r| {
                records.push(r)
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: hostile lines must not fail the extraction: {e}",
                    case.name
                )
            });
        let s = &extraction.summary;
        let mut got: Vec<_> = s
            .warnings
            .iter()
            .filter(|w| w.file != HOST_CHECKS)
            .map(|w| (w.kind, w.file.as_str(), w.line, w.count))
            .collect();
        got.sort();
        let mut expected = case.warnings.to_vec();
        expected.sort();
        assert_eq!(got, expected, "{}: {:#?}", case.name, s.warnings);
        // The other lines' records are exactly as before; the new lines
        // give exactly `added`.
        let kept = base
            .iter()
            .filter(|r| !matches!(r, Record::Patient(p) if case.lost.contains(&p.id.as_str())));
        assert_eq!(
            multiset(records.clone()),
            multiset(kept.cloned().chain(case.added.clone())),
            "{}",
            case.name
        );
        assert_eq!(
            s.records_read,
            base_extraction.summary.records_read + new_lines as u64,
            "{}",
            case.name
        );
        assert_eq!(s.records_mapped, records.len() as u64, "{}", case.name);
    }
}
