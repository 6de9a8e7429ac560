//! Malformed input to the python-patient-json plugin
//! (`plugins/python-patient-json`, FORMAT.md): a bad line or item is left
//! out and counted as a warning naming `patients.jsonl` and the line of
//! its first occurrence; a missing file, or one that is not UTF-8, fails
//! the extraction naming the file (and the line). Built with the real
//! componentize-py, like `python.rs`.

use crate::common::*;
use gpes_host::{ExtractionError, Limits, Plugin};
use gpes_model::{Record, Request, Summary, Table, WarningKind};
use std::path::Path;
use std::sync::{Arc, LazyLock};

static PATIENT_JSON: LazyLock<Arc<Plugin>> = LazyLock::new(|| {
    let wasm = gpes_plugin_artifacts::tools::python_patient_json();
    let bytes = std::fs::read(&wasm).expect("the component was just built");
    Arc::new(HOST.load(&bytes).expect("the Python component loads"))
});

fn everything() -> Request {
    Request {
        practice: PRACTICE.into(),
        tables: Table::ALL.to_vec(),
        code_sets: vec![],
    }
}

async fn extract(root: &Path) -> Result<(Vec<Record>, Summary), ExtractionError> {
    let mut records = Vec::new();
    let extraction = PATIENT_JSON
        .extract(root, &everything(), &Limits::default(), |r| records.push(r))
        .await?;
    Ok((records, extraction.summary))
}

/// A patient line, registered at the practice, with `extra` fields added.
fn patient(guid: &str, extra: &str) -> String {
    format!(
        r#"{{"guid":"{guid}","nhs":null,"born":"1960-06-15","gender":"F","postcode":"LS1 4AB","died":null,"registrations":[{{"ods":"{PRACTICE}","from":"2010-01-04","to":null,"type":"regular"}}]{extra}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_line_is_a_warning_naming_its_line() {
    let good_obs = r#","observations":[{"when":"2024-10-01","snomed":"271649006","value":130,"unit":"mm[Hg]"}]"#;
    let lines = [
        // 1: good.
        patient("p1", good_obs),
        // 2, 3, 4: not JSON; JSON but not an object; an object without a guid.
        "not json {".to_string(),
        "[1, 2]".to_string(),
        r#"{"nhs":"9990000018"}"#.to_string(),
        // 5: p1 again.
        patient("p1", ""),
        // 6: an observation with a month 13: the observation is left out.
        patient(
            "p2",
            r#","observations":[{"when":"2024-13-01","snomed":"271649006","value":1}]"#,
        ),
        // 7: an NHS number failing its check: the number is left out.
        patient("p3", "").replace(r#""nhs":null"#, r#""nhs":"1234567890""#),
        // 8: a code that is not a concept id.
        patient(
            "p4",
            r#","observations":[{"when":"2024-10-01","snomed":"abc","value":null}]"#,
        ),
        // 9: a value that is not a number.
        patient(
            "p5",
            r#","observations":[{"when":"2024-10-01","snomed":"271649006","value":"high"}]"#,
        ),
        // 10: blank, skipped.
        String::new(),
        // 11: observations that are not a list.
        patient("p6", r#","observations":5"#),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    // A byte-order mark before the first line is allowed.
    std::fs::write(
        dir.path().join("patients.jsonl"),
        format!("\u{feff}{}\n", lines.join("\n")),
    )
    .expect("written");
    let (records, summary) = extract(dir.path()).await.expect("bad lines do not fail it");

    let first = |kind: WarningKind| {
        let w: Vec<_> = summary.warnings.iter().filter(|w| w.kind == kind).collect();
        assert_eq!(w.len(), 1, "{kind:?}: {:#?}", summary.warnings);
        assert_eq!(w[0].file, "patients.jsonl", "{:?}", w[0]);
        (w[0].line, w[0].count, w[0].message.clone())
    };
    let (line, count, message) = first(WarningKind::MalformedLine);
    assert_eq!(
        (line, count),
        (2, 4),
        "not JSON, an array, no guid, not a list"
    );
    assert!(message.contains("not JSON"), "{message}");
    let (line, count, message) = first(WarningKind::DuplicatePatient);
    assert_eq!((line, count), (5, 1));
    assert!(message.contains("p1"), "{message}");
    let (line, _, message) = first(WarningKind::BadDate);
    assert_eq!(line, 6);
    assert!(message.contains("observations.when"), "{message}");
    assert_eq!(first(WarningKind::BadNhsNumber).0, 7);
    let (line, _, message) = first(WarningKind::UnmappableCode);
    assert_eq!(line, 8);
    assert!(message.contains("abc"), "{message}");
    let (line, _, message) = first(WarningKind::BadValue);
    assert_eq!(line, 9);
    assert!(message.contains("high"), "{message}");

    // Kept: the patients p1 to p6 (once each), with their registrations,
    // and p1's one good observation; p3 without its NHS number.
    let patients: Vec<&gpes_model::Patient> = records
        .iter()
        .filter_map(|r| match r {
            Record::Patient(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut ids: Vec<&str> = patients.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["p1", "p2", "p3", "p4", "p5", "p6"]);
    assert!(patients.iter().all(|p| p.nhs_number.is_none()));
    let events: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r, Record::Event(_)))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(summary.records_mapped, records.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_undecodable_file_fails_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    match extract(dir.path()).await {
        Err(ExtractionError::Plugin { file, message }) => {
            assert_eq!(file.as_deref(), Some("patients.jsonl"));
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("a missing export must fail: {other:?}"),
    }

    let mut bytes = format!("{}\n{}\n", patient("p1", ""), patient("p2", "")).into_bytes();
    bytes.extend_from_slice(b"{\"guid\":\"p3\",\"postcode\":\"\xff\xfe\"}\n");
    std::fs::write(dir.path().join("patients.jsonl"), bytes).expect("written");
    match extract(dir.path()).await {
        Err(ExtractionError::Plugin { file, message }) => {
            assert_eq!(file.as_deref(), Some("patients.jsonl"));
            assert!(
                message.contains("line 3 is not UTF-8 (byte 26 "),
                "{message}"
            );
        }
        other => panic!("a file that is not UTF-8 must fail: {other:?}"),
    }
}
