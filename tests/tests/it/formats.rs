//! The two supplier formats against each other: one synthetic practice
//! written by gpes-synth as a csv-export folder and as a FHIR R4 bulk
//! export, read by the csv-export and fhir-ndjson plugins in the sandbox,
//! must give the same common-model records and the same answer to every
//! example query.

use gpes_host::{Extraction, Host, Limits, Plugin};
use gpes_model::{
    Date, Event, Medication, Patient, Precision, Record, Registration, RegistrationType, Request,
    Sex, Table, WarningKind,
};
use gpes_query::Answer;
use gpes_synth::{FhirCounts, Practice, PracticeConfig};
use std::collections::BTreeMap;
use std::path::Path;

const PRACTICE: &str = "A81001";

/// The message the fhir-ndjson plugin counts an Organization file under.
const ORGANIZATION_NOT_USED: &str = "Organization: not used (file not opened)";
/// ... and a cancelled EpisodeOfCare (a registration that covers no day).
const CANCELLED: &str = "EpisodeOfCare: status cancelled, not a registration";

fn full_request() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: Vec::new(),
    }
}

fn plugins(host: &Host) -> (Plugin, Plugin) {
    let load = |path: &str| {
        host.load(&std::fs::read(path).expect("plugin built"))
            .expect("loads")
    };
    (
        load(gpes_plugin_artifacts::CSV_EXPORT),
        load(gpes_plugin_artifacts::FHIR_NDJSON),
    )
}

/// A record as a sortable key (serde_json writes every f64 exactly).
fn key(r: &Record) -> String {
    serde_json::to_string(r).expect("a record serialises")
}

/// Every record the plugin maps from `folder` for a full request, sorted.
async fn extract_all(plugin: &Plugin, folder: &Path) -> (Vec<String>, Extraction) {
    let mut records = Vec::new();
    let extraction = plugin
        .extract(folder, &full_request(), &Limits::default(), |r| {
            records.push(key(&r))
        })
        .await
        .expect("extraction");
    records.sort_unstable();
    (records, extraction)
}

/// The records in `a` and not in `b`, as multisets (at most `max` shown).
fn missing(a: &[String], b: &[String], max: usize) -> Vec<String> {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for r in a {
        *count.entry(r).or_default() += 1;
    }
    for r in b {
        *count.entry(r).or_default() -= 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{n} x {r}"))
        .take(max)
        .collect()
}

/// Registrations that end on the day they start: no FHIR period can say
/// so, and the writer makes them cancelled episodes (see
/// `gpes_synth::write_fhir_ndjson`).
fn empty_registrations(p: &Practice) -> Vec<String> {
    p.registrations
        .iter()
        .filter(|r| r.end == Some(r.start))
        .map(|r| key(&Record::Registration(r.clone())))
        .collect()
}

struct Written {
    _dir: tempfile::TempDir,
    practice: Practice,
    counts: FhirCounts,
    csv: std::path::PathBuf,
    fhir: std::path::PathBuf,
}

fn write_both(practice: Practice) -> Written {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("csv").join(PRACTICE);
    let fhir = dir.path().join("fhir").join(PRACTICE);
    gpes_synth::write_csv_export(&practice, &csv).expect("csv written");
    let counts = gpes_synth::write_fhir_ndjson(&practice, &fhir).expect("fhir written");
    Written {
        _dir: dir,
        practice,
        counts,
        csv,
        fhir,
    }
}

fn synthetic(seed: u64, patients: usize) -> Written {
    write_both(gpes_synth::generate(&PracticeConfig::new(
        seed, PRACTICE, patients,
    )))
}

/// Checks that both plugins read `w` as the same records, except the
/// registrations FHIR cannot hold, and that each summary says what it
/// should; returns the number of records.
async fn same_records(host: &Host, w: &Written) -> usize {
    let (csv_plugin, fhir_plugin) = plugins(host);
    let (csv, csv_x) = extract_all(&csv_plugin, &w.csv).await;
    let (fhir, fhir_x) = extract_all(&fhir_plugin, &w.fhir).await;

    // The CSV folder is the practice itself, record for record.
    let mut expected: Vec<String> = w.practice.records().map(|r| key(&r)).collect();
    expected.sort_unstable();
    assert_eq!(
        csv.len(),
        expected.len(),
        "{:?}",
        missing(&expected, &csv, 5)
    );
    assert!(csv == expected, "{:?}", missing(&expected, &csv, 5));
    // No warning of the plugin's (the host's concern the registrations the
    // generator places at other practices).
    assert!(
        csv_x
            .summary
            .warnings
            .iter()
            .all(|w| w.file == gpes_host::HOST_CHECKS),
        "{:?}",
        csv_x.summary
    );

    // The FHIR folder: the same, less the registrations covering no day.
    let empty = empty_registrations(&w.practice);
    let mut without_empty = csv.clone();
    for e in &empty {
        let at = without_empty
            .binary_search(e)
            .expect("an empty one is read");
        without_empty.remove(at);
    }
    let extra = missing(&fhir, &without_empty, 5);
    let lost = missing(&without_empty, &fhir, 5);
    assert!(
        extra.is_empty() && lost.is_empty(),
        "FHIR gave {} records, CSV {} ({} empty registrations)\nonly in FHIR: {extra:#?}\nonly in CSV: {lost:#?}",
        fhir.len(),
        csv.len(),
        empty.len()
    );

    // Summaries: both map every record; the CSV plugin reads one line a
    // record, the FHIR one every resource of the files it opens (all but
    // Organization, which it counts once as not used).
    assert_eq!(csv_x.summary.records_mapped, csv.len() as u64);
    assert_eq!(csv_x.summary.records_read, csv.len() as u64);
    assert_eq!(fhir_x.summary.records_mapped, fhir.len() as u64);
    assert_eq!(fhir_x.records, fhir.len() as u64);
    let c = &w.counts;
    let resources = c.patients
        + c.episodes_of_care
        + c.conditions
        + c.observations
        + c.immunizations
        + c.medication_requests
        + c.medication_statements;
    assert_eq!(fhir_x.summary.records_read, resources as u64);
    // The plugin's warnings (the host's concern the registrations the
    // generator places at other practices).
    let mut warnings: Vec<(WarningKind, &str, &str, u64)> = fhir_x
        .summary
        .warnings
        .iter()
        .filter(|w| w.file != gpes_host::HOST_CHECKS)
        .map(|w| (w.kind, w.file.as_str(), w.message.as_str(), w.count))
        .collect();
    warnings.sort();
    let mut expected_warnings = vec![(
        WarningKind::Other,
        "Organization.000.ndjson",
        ORGANIZATION_NOT_USED,
        1,
    )];
    if !empty.is_empty() {
        // One file of episodes in these tests.
        expected_warnings.push((
            WarningKind::Other,
            "EpisodeOfCare.000.ndjson",
            CANCELLED,
            empty.len() as u64,
        ));
    }
    expected_warnings.sort();
    assert_eq!(warnings, expected_warnings);
    // Every resource file but Organization was opened and fingerprinted.
    let mut written: Vec<String> = std::fs::read_dir(&w.fhir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("Organization."))
        .collect();
    written.sort();
    let opened: Vec<&str> = fhir_x.fingerprint.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(opened, written);
    csv.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_practice_reads_the_same_from_fhir_as_from_csv() {
    let w = synthetic(2026, 3_000);
    // Big enough that events span several files.
    assert!(w.counts.observations > gpes_synth::FHIR_RESOURCES_PER_FILE * 2);
    let host = Host::new().expect("host");
    let n = same_records(&host, &w).await;
    assert!(n > 250_000, "{n} records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_records_read_the_same_from_fhir_as_from_csv() {
    let d = |y, m, day| Date::ymd(y, m, day).expect("date");
    let partial = |y, m, p| Date::new(y, m, 1, p).expect("date");
    let mut practice =
        gpes_synth::generate(&PracticeConfig::new(3, PRACTICE, gpes_synth::MIN_PATIENTS));
    practice.patients.push(Patient {
        id: "odd-1".into(),
        nhs_number: None,
        date_of_birth: Some(partial(1950, 7, Precision::Month)),
        sex: Sex::Unknown,
        postcode: Some("LS1 \"4\" \\ AB".into()),
        date_of_death: Some(partial(2024, 1, Precision::Year)),
        death_date_unknown: false,
    });
    practice.patients.push(Patient {
        id: "odd-2".into(),
        nhs_number: Some("9434765919".into()),
        date_of_birth: None,
        sex: Sex::Other,
        postcode: None,
        date_of_death: Some(d(2024, 3, 31)),
        death_date_unknown: false,
    });
    let registration = |start, end, kind| Registration {
        patient_id: "odd-1".into(),
        practice: "Z99999".into(),
        start,
        end,
        kind,
    };
    practice.registrations.extend([
        // Ends on 1 March of a leap year: FHIR's last day is 29 February.
        registration(
            d(2020, 1, 1),
            Some(d(2024, 3, 1)),
            RegistrationType::Regular,
        ),
        registration(
            d(2023, 12, 31),
            Some(d(2024, 1, 1)),
            RegistrationType::Temporary,
        ),
        // Covers no day: not representable in FHIR.
        registration(
            d(2024, 5, 5),
            Some(d(2024, 5, 5)),
            RegistrationType::Regular,
        ),
        registration(d(2024, 1, 1), None, RegistrationType::Temporary),
    ]);
    let event = |date, code, value, unit: Option<&str>| Event {
        patient_id: "odd-2".into(),
        date,
        code,
        value,
        unit: unit.map(str::to_owned),
    };
    practice.events.extend([
        event(partial(2019, 6, Precision::Month), 44054006, None, None),
        event(partial(2001, 1, Precision::Year), 195967001, None, None),
        event(d(2024, 10, 27), 822851000000102, None, None),
        event(d(2024, 6, 1), 999791000000106, Some(48.0), None),
        event(d(2024, 6, 1), 123456789, None, Some("unit \"odd\"")),
        event(d(2024, 6, 2), 27113001, Some(72.35), Some("kg")),
        event(d(2024, 6, 3), 123456789, Some(-0.1), Some("x")),
        event(d(2024, 6, 4), 60621009, Some(1e-7), Some("kg/m2")),
    ]);
    practice.medications.extend([
        Medication {
            patient_id: "odd-2".into(),
            date: partial(2022, 2, Precision::Month),
            code: 325278007,
            quantity: None,
        },
        Medication {
            patient_id: "odd-2".into(),
            date: d(2024, 2, 29),
            code: 12345678901234,
            quantity: Some(2.5),
        },
    ]);
    let w = write_both(practice);
    assert_eq!(w.counts.medication_statements, 1);
    assert_eq!(empty_registrations(&w.practice).len(), 1);
    let host = Host::new().expect("host");
    same_records(&host, &w).await;
}

/// Every example query's answer over a folder read by `plugin`, every pass
/// included, as the agent runs it (parameters at their defaults).
async fn answers(host: &Host, plugin_path: &str, folder: &Path) -> BTreeMap<String, Answer> {
    let plugin = host
        .load(&std::fs::read(plugin_path).expect("plugin"))
        .expect("loads");
    gpes_tests::example_answers(&plugin, PRACTICE, folder).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_query_answers_the_same_over_fhir_and_csv() {
    let w = synthetic(2026, 3_000);
    let host = Host::new().expect("host");
    let csv = answers(&host, gpes_plugin_artifacts::CSV_EXPORT, &w.csv).await;
    let fhir = answers(&host, gpes_plugin_artifacts::FHIR_NDJSON, &w.fhir).await;
    assert!(csv.len() >= 8, "{:?}", csv.keys());
    assert_eq!(
        csv.keys().collect::<Vec<_>>(),
        fhir.keys().collect::<Vec<_>>()
    );
    for (file, answer) in &csv {
        assert_eq!(answer, &fhir[file], "{file}");
    }
    // The answers are about something: the registers are not empty.
    for (file, population) in [
        ("dm_reg.yaml", "DM_REG"),
        ("hyp_reg.yaml", "HYP_REG"),
        ("ast_reg.yaml", "AST_REG"),
        ("dm020.yaml", "DM020_NUM"),
        ("chd001.yaml", "CHD_REG"),
        ("af001.yaml", "AF_REG"),
        ("ast007.yaml", "AST007_NUM"),
        ("smok002.yaml", "SMOK002_NUM"),
        ("flu.yaml", "VACCINATED_AT_RISK"),
    ] {
        let n = csv[file].count(population);
        assert!(n.is_some_and(|n| n > 20), "{file}: {:?}", csv[file]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blood_pressure_panels_answer_as_separate_readings() {
    // The same patients written twice as FHIR: blood pressure as separate
    // systolic and diastolic Observations, and as panels (one Observation,
    // two components), as many systems and Synthea write it.
    let practice = gpes_synth::generate(&PracticeConfig::new(2026, PRACTICE, 3_000));
    let dir = tempfile::tempdir().expect("temp dir");
    let separate = dir.path().join("separate").join(PRACTICE);
    let panels = dir.path().join("panels").join(PRACTICE);
    let s = gpes_synth::write_fhir_ndjson(&practice, &separate).expect("written");
    let options = gpes_synth::FhirOptions {
        bp_panels: true,
        ..gpes_synth::FhirOptions::default()
    };
    let p = gpes_synth::write_fhir_ndjson_with(&practice, &panels, &options).expect("written");
    // Panels were written: each replaced two Observations by one.
    let pairs = s.observations - p.observations;
    let panel_lines: usize = std::fs::read_dir(&panels)
        .expect("folder")
        .map(|e| e.expect("entry").path())
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("Observation."))
        })
        .map(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .filter(|l| l.contains(r#""component":["#))
                .count()
        })
        .sum();
    assert_eq!(panel_lines, pairs);
    assert!(pairs > 1_000, "{pairs} panels");

    let host = Host::new().expect("host");
    // The same records, for a full request ...
    let (_, fhir_plugin) = plugins(&host);
    let (a, a_x) = extract_all(&fhir_plugin, &separate).await;
    let (b, b_x) = extract_all(&fhir_plugin, &panels).await;
    assert!(
        a == b,
        "only separate: {:?}\nonly panels: {:?}",
        missing(&a, &b, 5),
        missing(&b, &a, 5)
    );
    assert_eq!(a_x.summary.warnings, b_x.summary.warnings);
    // ... and the same answer to every example query, whose filtered
    // requests name the readings' SNOMED CT codes.
    let separate_answers = answers(&host, gpes_plugin_artifacts::FHIR_NDJSON, &separate).await;
    let panel_answers = answers(&host, gpes_plugin_artifacts::FHIR_NDJSON, &panels).await;
    assert!(separate_answers.len() >= 8);
    assert_eq!(separate_answers, panel_answers);
    // HYP008 is about the readings, and finds some.
    let n = panel_answers["hyp008.yaml"].count("HYP008_NUM");
    assert!(
        n.is_some_and(|n| n > 20),
        "{:?}",
        panel_answers["hyp008.yaml"]
    );
}
