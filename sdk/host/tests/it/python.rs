//! The Python adapter (`plugins/python-example`), built with the real
//! componentize-py and run by the same host, must answer exactly as the
//! Rust csv-export plugin does: the same records (as a multiset), the same
//! summary, the same files opened, the same errors, over the hand-made
//! practice, over a synthetic one, and over bad input of every kind.
//!
//! The component is built by `plugins/python-example/build.sh` into a cache
//! under the target folder, keyed by a hash of the Python sources, the WIT
//! and componentize-py's version (`gpes_plugin_artifacts::tools`). Without
//! componentize-py these tests fail, naming the command that installs it.

use crate::common::*;
use gpes_host::{ExtractionError, FileFingerprint, HOST_CHECKS, Limits, Plugin};
use gpes_model::{CodeSet, Date, Request, Summary, Table, WarningKind};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// The Python adapter, built (`gpes_plugin_artifacts::tools`) and compiled
/// once per test binary.
static PYTHON: LazyLock<Arc<Plugin>> = LazyLock::new(|| {
    let wasm = gpes_plugin_artifacts::tools::python_example();
    let bytes = std::fs::read(&wasm).expect("the component was just built");
    Arc::new(HOST.load(&bytes).expect("the Python component loads"))
});

fn python() -> Arc<Plugin> {
    PYTHON.clone()
}

/// What one extraction came to, in a form two plugins can be compared by.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done {
        /// Every record's debug form, sorted: the multiset of records.
        records: Vec<String>,
        summary: Summary,
        fingerprint: Vec<FileFingerprint>,
    },
    /// The plugin refused the data as a whole.
    Failed {
        file: Option<String>,
        message: String,
    },
}

async fn outcome(plugin: &Plugin, root: &Path, request: &Request) -> Outcome {
    let mut records = Vec::new();
    match plugin
        .extract(root, request, &Limits::default(), |r| {
            records.push(format!("{r:?}"))
        })
        .await
    {
        Ok(extraction) => {
            assert_eq!(extraction.records, records.len() as u64);
            records.sort();
            Outcome::Done {
                records,
                summary: extraction.summary,
                fingerprint: extraction.fingerprint,
            }
        }
        Err(ExtractionError::Plugin { file, message }) => Outcome::Failed { file, message },
        Err(other) => panic!("bad input must never crash a plugin: {other}"),
    }
}

/// Runs both plugins over the same folder and request, asserts that they
/// agree, and returns the (shared) outcome.
async fn both(python: &Plugin, root: &Path, request: &Request, what: &str) -> Outcome {
    let rust = outcome(&plugin(gpes_plugin_artifacts::CSV_EXPORT), root, request).await;
    let py = outcome(python, root, request).await;
    match (&rust, &py) {
        (
            Outcome::Done {
                records: r,
                summary: rs,
                fingerprint: rf,
            },
            Outcome::Done {
                records: p,
                summary: ps,
                fingerprint: pf,
            },
        ) => {
            assert_eq!(ps, rs, "{what}: the summaries differ (left Python)");
            assert_eq!(pf, rf, "{what}: different files were opened (left Python)");
            if p != r {
                panic!("{what}: the records differ\n{}", difference(r, p));
            }
        }
        _ => assert_eq!(py, rust, "{what}: the outcomes differ (left Python)"),
    }
    rust
}

/// The first few records only one side returned (records can be many).
fn difference(rust: &[String], python: &[String]) -> String {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rust {
        *count.entry(r).or_default() += 1;
    }
    for p in python {
        *count.entry(p).or_default() -= 1;
    }
    let only = |sign: i64| -> Vec<&str> {
        count
            .iter()
            .filter(|(_, n)| n.signum() == sign)
            .map(|(r, _)| *r)
            .take(5)
            .collect()
    };
    format!(
        "{} records from Rust, {} from Python\nonly (or more often) from Rust: {:#?}\nonly (or more often) from Python: {:#?}",
        rust.len(),
        python.len(),
        only(1),
        only(-1)
    )
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::ymd(y, m, d).expect("valid")
}

fn full() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: vec![],
    }
}

/// Patients and registrations in full, events and medications by code,
/// with windows that overlap for one code, an open-ended one, and a policy
/// set without a window.
fn filtered() -> Request {
    use gpes_synth::codes::*;
    let set = |table, codes: &[u64], earliest, latest, policy| CodeSet {
        table,
        codes: codes.to_vec(),
        earliest,
        latest,
        policy,
    };
    Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients, Table::Registrations],
        code_sets: vec![
            set(
                Table::Events,
                &[DIABETES_TYPE_2, DIABETES_TYPE_1, HYPERTENSION],
                None,
                Some(reference_date()),
                false,
            ),
            set(
                Table::Events,
                &[HBA1C_IFCC, SYSTOLIC_BP, HYPERTENSION],
                Some(date(2024, 6, 1)),
                Some(reference_date()),
                false,
            ),
            set(
                Table::Events,
                &[FLU_VACCINATION],
                Some(date(2024, 9, 1)),
                None,
                false,
            ),
            set(Table::Events, &[TYPE_1_OPT_OUT], None, None, true),
            set(
                Table::Medications,
                &[METFORMIN_500MG_TABLETS, SALBUTAMOL_INHALER],
                Some(date(2024, 10, 1)),
                Some(reference_date()),
                false,
            ),
        ],
    }
}

fn patients_and_registrations() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: vec![Table::Patients, Table::Registrations],
        code_sets: vec![],
    }
}

fn records_in(o: &Outcome) -> usize {
    match o {
        Outcome::Done { records, .. } => records.len(),
        Outcome::Failed { .. } => 0,
    }
}

#[tokio::test]
async fn python_describe_says_what_the_plugin_is() {
    let python = python();
    let info = python
        .describe(&Limits::default())
        .await
        .expect("describe works");
    assert_eq!(info.name, "python-example");
    assert_eq!(info.data_model_version, gpes_model::DATA_MODEL_VERSION);
}

#[tokio::test]
async fn python_answers_as_the_rust_plugin_on_the_hand_made_practice() {
    let python = python();
    let dir = practice();
    let all = both(&python, dir.path(), &full(), "a81001, full request").await;
    // 14 patients, 16 registrations, 6 events, 2 medications.
    assert_eq!(records_in(&all), 38);
    let some = both(&python, dir.path(), &filtered(), "a81001, filtered").await;
    let Outcome::Done { records, .. } = &some else {
        panic!("the filtered request succeeds: {some:?}")
    };
    // 30 patients and registrations; of the events, p01's and p12's type 2
    // diabetes, p07's hypertension (no lower bound) and p01's HbA1c (dated
    // 2025-01-20, inside its window); p07's metformin (2025-03-10).
    assert_eq!(records.len(), 35, "{records:#?}");
    let only = both(
        &python,
        dir.path(),
        &patients_and_registrations(),
        "a81001, patients and registrations",
    )
    .await;
    let Outcome::Done { fingerprint, .. } = &only else {
        panic!("succeeds: {only:?}")
    };
    let opened: Vec<&str> = fingerprint.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(opened, ["Patient.csv", "Registration.csv"]);
}

#[tokio::test]
async fn python_answers_as_the_rust_plugin_on_a_synthetic_practice() {
    let python = python();
    let config = gpes_synth::PracticeConfig::new(7, PRACTICE, 2_000);
    let practice = gpes_synth::generate(&config);
    let dir = tempfile::tempdir().expect("temp dir");
    gpes_synth::write_csv_export(&practice, dir.path()).expect("write the practice");
    let expected = practice.records().count();

    let all = both(&python, dir.path(), &full(), "synthetic, full request").await;
    let Outcome::Done {
        records, summary, ..
    } = &all
    else {
        panic!("the full request succeeds: {all:?}")
    };
    // The generator writes only good lines: every one is read and mapped.
    assert_eq!(records.len(), expected);
    assert_eq!(summary.records_mapped, expected as u64);
    // Only the host's own (registrations the generator placed at other
    // practices), none of the plugin's.
    assert!(
        summary.warnings.iter().all(|w| w.file == HOST_CHECKS),
        "{:?}",
        summary.warnings
    );

    let some = both(&python, dir.path(), &filtered(), "synthetic, filtered").await;
    let n = records_in(&some);
    let base = practice.patients.len() + practice.registrations.len();
    assert!(
        n > base && n < expected,
        "the filtered request returns some events and medications, not all: {n} of {expected}"
    );
}

/// One bad-input case: what is done to a copy of the hand-made practice,
/// the request, and what the Rust plugin is known to answer.
struct Case {
    name: &'static str,
    change: Change,
    request: fn() -> Request,
    expect: Expect,
}

enum Change {
    Remove(&'static str),
    Write(&'static str, &'static [u8]),
    Append(&'static str, &'static [u8]),
}

enum Expect {
    /// The extraction fails, naming this file; the message has this text.
    Error(&'static str, &'static str),
    /// It succeeds with these warnings, as (kind, file, first line, count).
    Warnings(&'static [(WarningKind, &'static str, u64, u64)]),
}

const P: &str = "Patient.csv";
const R: &str = "Registration.csv";
const E: &str = "Observation.csv";
const M: &str = "Medication.csv";

fn cases() -> Vec<Case> {
    use Change::*;
    use Expect::*;
    use WarningKind::*;
    let case = |name, change, expect| Case {
        name,
        change,
        request: full,
        expect,
    };
    vec![
        case("Patient.csv missing", Remove(P), Error(P, "missing")),
        case("Observation.csv missing", Remove(E), Error(E, "missing")),
        Case {
            name: "Observation.csv missing but not needed",
            change: Remove(E),
            request: patients_and_registrations,
            expect: Warnings(&[]),
        },
        Case {
            name: "a bad Observation.csv is never opened when not needed",
            change: Write(E, b"garbage\xff\n"),
            request: patients_and_registrations,
            expect: Warnings(&[]),
        },
        case("empty file", Write(M, b""), Error(M, "empty")),
        case("blank lines only", Write(M, b"\n\r\n\n"), Error(M, "empty")),
        case("header of empty fields", Write(M, b",,,,\n"), Error(M, "empty")),
        case(
            "wrong header",
            Write(R, b"id,practice,start,end,type\np01,A81001,01/05/2010,,GMS\n"),
            Error(R, "expected 'PatientGuid,OrganisationOds"),
        ),
        case(
            "header in another order",
            Write(M, b"PatientGuid,CodeSystem,IssueDate,Code,Quantity\n"),
            Error(M, "expected"),
        ),
        case(
            "header with trailing space",
            Write(M, b"PatientGuid,IssueDate,CodeSystem,Code,Quantity \n"),
            Error(M, "expected"),
        ),
        case(
            "header not UTF-8",
            Write(
                E,
                b"PatientGuid,Effective\xe4Date,CodeSystem,Code,NumericValue,NumericUnit\n",
            ),
            Error(E, "not UTF-8"),
        ),
        case(
            "binary file",
            Write(E, b"\x00\xff\xfe\x80\x81,\x9f\n\x00"),
            Error(E, "UTF-8"),
        ),
        case(
            "byte order mark, CRLF, blank lines and quoting",
            Write(
                M,
                b"\xef\xbb\xbfPatientGuid,IssueDate,CodeSystem,Code,Quantity\r\n\r\n\"p01\",01/02/2025,\"DMD\",\"39720311000001101\",\"56\"\r\n\n  p07 , 10/03/2025 , DMD ,325278007, 28.0 \r\n",
            ),
            Warnings(&[]),
        ),
        case(
            "wrong field count",
            Append(P, b"p15,9434765919,12/04/1960,F\np16,,,,,,\n"),
            Warnings(&[(MalformedLine, P, 16, 2)]),
        ),
        case(
            "bad date of birth and death",
            Append(
                P,
                b"p15,,30/02/1960,F,,\np16,,12/04/1960,M,,01/13/2025\np17,,1960-04-12,M,,\n",
            ),
            Warnings(&[(BadDate, P, 16, 3)]),
        ),
        case(
            "bad NHS number check digit",
            Append(P, b"p15,9434765910,12/04/1960,F,,\np16,943476591X,,,,\np17,1000000010,,,,\n"),
            Warnings(&[(BadNhsNumber, P, 16, 3)]),
        ),
        case(
            "duplicate patient id",
            Append(P, b"p01,9434765919,12/04/1961,M,,\n p02 ,,,,,\n"),
            // p01 and p02 each on two lines that differ: all four counted.
            Warnings(&[(DuplicatePatient, P, 2, 4)]),
        ),
        case(
            "duplicate patient id whose lines agree",
            Append(P, b"p03,9434765145,05/01/1988,F,M1 1AE,\n"),
            Warnings(&[(DuplicatePatient, P, 4, 2)]),
        ),
        case(
            "non-UTF-8 field",
            Append(P, b"p15,,,F,LS1 \xff4AP,\np16,,,\xc3\x28,,\n"),
            Warnings(&[(MalformedLine, P, 16, 2)]),
        ),
        case(
            "unknown gender",
            Append(P, b"p15,,,female,,\np16,,,m,,\np17,,,  I  ,,\n"),
            Warnings(&[(BadValue, P, 16, 2)]),
        ),
        case(
            "every gender, and partial dates",
            Append(P, b"p15,,1960,M,,\np16,,04/1960,F,,\np17,,,I,,\np18,,,U,,\np19,,,,,2025\n"),
            Warnings(&[]),
        ),
        case(
            "empty patient id",
            Append(P, b",9434765919,,,,\n  ,,,,,\n"),
            Warnings(&[(MalformedLine, P, 16, 2)]),
        ),
        case(
            "several faults on one patient line",
            Append(P, b"p15,123,30/02/1960,X,,1900\n"),
            Warnings(&[(BadDate, P, 16, 1), (BadNhsNumber, P, 16, 1), (BadValue, P, 16, 1)]),
        ),
        case(
            "bad registrations",
            Append(
                R,
                b"p15,A81001,01/2020,,GMS\np16,A81001,01/01/2020,31/12/2019,GMS\np17,A81001,01/01/2020,,regular\np18,,01/01/2020,,GMS\np19,A81001,,,GMS\np20,A81001,01/01/2020,2021,TEMP\np21,A81001,2020-01-01,,GMS\np22,A81001,01/01/2020,01/01/2020,TEMP\n",
            ),
            Warnings(&[(MalformedLine, R, 21, 1), (BadDate, R, 18, 5), (BadValue, R, 20, 1)]),
        ),
        case(
            "bad events",
            Append(
                E,
                b"p01,01/13/2024,SNOMED,44054006,,\np01,02/11/2024,SNOMED,abc,,\np01,02/11/2024,SNOMED,0,,\np01,02/11/2024,SNOMED,44054006,\"12,5\",\np01,02/11/2024,SNOMED,44054006,NaN,\np01,02/11/2024,SNOMED,44054006,1e400,\np01,02/11/2024,SNOMED,-44054006,,\np01,02/11/2024,READ2,C10..,,\np01,02/11/2024,XYZ,44054006,,\np01,2024-11-02,SNOMED,44054006,,\np01,02/11/2024,,44054006,,\np01,2/11/2024,SNOMED,44054006,,\n",
            ),
            Warnings(&[
                (BadDate, E, 8, 3),
                (UnmappableCode, E, 9, 4),
                (BadValue, E, 11, 3),
                (UnknownCodeSystem, E, 16, 2),
            ]),
        ),
        case(
            "events that are odd but good",
            Append(
                E,
                b"p01,11/2024,SNOMED,44054006, 7.5 ,\np01,2024,SNOMED,44054006,-0,mmol/mol\np01, 02/11/2024 , SNOMED , 44054006 ,1E3,\np01,02/11/2024,SNOMED,44054006,.5,\np01,02/11/2024,\"SNOMED\",44054006,5.,\"a \"\"unit\"\"\"\n",
            ),
            Warnings(&[]),
        ),
        case(
            "a byte-order mark or the header line inside a file",
            Append(
                P,
                b"\xef\xbb\xbfp15,,,F,,\nPatientGuid,NhsNumber,DateOfBirth,Gender,Postcode,DateOfDeath\np16,,,M,,\n",
            ),
            Warnings(&[(MalformedLine, P, 16, 2)]),
        ),
        case(
            "codes with leading zeros or a sign",
            Append(
                E,
                b"p01,02/11/2024,SNOMED,044054006,,\np01,02/11/2024,SNOMED,+44054006,,\np01,02/11/2024,SNOMED,00,,\n",
            ),
            Warnings(&[(UnmappableCode, E, 8, 3)]),
        ),
        case(
            "lower-case code systems and values that are not finite",
            Append(
                E,
                b"p01,02/11/2024,snomed,44054006,,\np01,02/11/2024,read2,C10..,,\np01,02/11/2024,SNOMED,44054006,inf,\np01,02/11/2024,SNOMED,44054006,-Infinity,\n",
            ),
            Warnings(&[(UnknownCodeSystem, E, 8, 2), (BadValue, E, 10, 2)]),
        ),
        case(
            "bad medications",
            Append(
                M,
                b"p01,01/02/2025,DMD,39720311000001101,x\np01,01/02/2025,DMD,dmd,1\np01,2025,DMD,39720311000001101\np01,01/02/2025,SNOMED,325278007,28\np01,01/02/2025,EMIS,ASPI1,28\n",
            ),
            Warnings(&[
                (MalformedLine, M, 6, 1),
                (UnmappableCode, M, 5, 2),
                (BadValue, M, 4, 1),
                (UnknownCodeSystem, M, 7, 1),
            ]),
        ),
        case(
            "a quoted field across lines",
            Append(P, b"p15,,,F,\"LS1\n4AP\",\np16,,,U,,\np16,,,,,\n"),
            // p16 on lines 18 and 19, which agree (U and empty are both
            // unknown).
            Warnings(&[(DuplicatePatient, P, 18, 2)]),
        ),
        case(
            "an unterminated quote at the end",
            Append(P, b"p15,,,F,\"LS1 4AP,\n"),
            Warnings(&[(MalformedLine, P, 16, 1)]),
        ),
        case(
            "a quote inside a field and text after a closing quote",
            Append(P, b"p15,,,F,LS1 \"4AP\",\np16,,,M,\"LS1\" 4AP,\n"),
            Warnings(&[]),
        ),
        case(
            "a NUL byte and Unicode spaces",
            Append(P, b"p15,,,F,LS1\x004AP,\n\xc2\xa0p16\xc2\xa0,,,M,,\n\x1cp17,,,M,,\n"),
            Warnings(&[]),
        ),
        Case {
            name: "a bad line whose code is not wanted is skipped without a warning",
            change: Append(
                E,
                b"p01,01/13/2024,SNOMED,72313002,,\np01,01/13/2024,SNOMED,44054006,,\np01,02/11/2024,SNOMED,44054006,x,\np01,2024-11-02,SNOMED,72313002,,\np01,02/11/2024,READ2,C10..,,\np01,02/11/2024,SNOMED,072313002,,\n",
            ),
            request: filtered,
            // Line 11 (an ISO date, a code not wanted) is filtered out; a
            // Read v2 code (line 12) cannot be filtered, nor can a code that
            // is not a concept id (line 13), so both are warned about.
            expect: Warnings(&[(BadDate, E, 9, 1), (BadValue, E, 10, 1), (UnmappableCode, E, 12, 2)]),
        },
    ]
}

#[tokio::test]
async fn python_answers_bad_input_as_the_rust_plugin() {
    let python = python();
    for case in cases() {
        let dir = practice();
        match case.change {
            Change::Remove(name) => std::fs::remove_file(path(&dir, name)).expect("remove"),
            Change::Write(name, bytes) => std::fs::write(path(&dir, name), bytes).expect("write"),
            Change::Append(name, bytes) => {
                let mut text = std::fs::read(path(&dir, name)).expect("read");
                text.extend_from_slice(bytes);
                std::fs::write(path(&dir, name), text).expect("write");
            }
        }
        let got = both(&python, dir.path(), &(case.request)(), case.name).await;
        match (case.expect, &got) {
            (Expect::Error(file, text), Outcome::Failed { file: f, message }) => {
                assert_eq!(f.as_deref(), Some(file), "{}", case.name);
                assert!(message.contains(text), "{}: {message}", case.name);
            }
            (Expect::Warnings(expected), Outcome::Done { summary, .. }) => {
                // The plugin's warnings (the host's, the same for both,
                // concern the registration at another practice).
                let mut got: Vec<_> = summary
                    .warnings
                    .iter()
                    .filter(|w| w.file != HOST_CHECKS)
                    .map(|w| (w.kind, w.file.as_str(), w.line, w.count))
                    .collect();
                got.sort();
                let mut expected = expected.to_vec();
                expected.sort();
                assert_eq!(got, expected, "{}: {:#?}", case.name, summary.warnings);
            }
            (_, other) => panic!("{}: unexpected outcome {other:?}", case.name),
        }
    }
}
