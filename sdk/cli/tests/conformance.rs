//! The conformance kit, run as the real `gpes-plugin` binary over real
//! plugins: the two Rust reference adapters conform on a 10,000-patient
//! practice, as does the Python one, and a plugin with one quiet bug is
//! caught.

use std::process::Command;

fn conformance(plugin: &str, format: &str, patients: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gpes-plugin"))
        .args(["conformance", plugin, "--format", format])
        .args(["--patients", patients])
        // The default compile cache, under the target folder.
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .output()
        .expect("run gpes-plugin");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Tables and queries reported the same.
fn same_lines(out: &str) -> usize {
    out.lines()
        .filter(|l| l.split_whitespace().any(|w| w == "same"))
        .count()
}

#[test]
fn csv_export_conforms_on_ten_thousand_patients() {
    let (ok, out) = conformance(gpes_plugin_artifacts::CSV_EXPORT, "csv-export", "10000");
    assert!(ok, "{out}");
    assert!(out.contains("conformant"), "{out}");
    // Every example query and table was compared, none differed.
    assert_eq!(same_lines(&out), 4 + 15, "{out}");
    assert!(!out.contains("DIFFERENT"), "{out}");
}

#[test]
fn fhir_ndjson_conforms_on_ten_thousand_patients() {
    let (ok, out) = conformance(gpes_plugin_artifacts::FHIR_NDJSON, "fhir-ndjson", "10000");
    assert!(ok, "{out}");
    assert_eq!(same_lines(&out), 4 + 15, "{out}");
}

#[test]
fn a_plugin_that_loses_records_on_a_boundary_is_caught() {
    let (ok, out) = conformance(gpes_plugin_artifacts::LOSSY_CSV, "csv-export", "1000");
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("all events") && l.contains("DIFFERENT")),
        "{out}"
    );
    // The queries that read events are caught too, with the counts.
    assert!(out.contains("DM_REG: plugin"), "{out}");
    assert!(out.contains("only from the generator"), "{out}");
    assert!(out.contains("does not conform"), "{out}");
}

#[test]
fn a_plugin_for_another_format_fails_clearly() {
    let (ok, out) = conformance(gpes_plugin_artifacts::FHIR_NDJSON, "csv-export", "1000");
    assert!(!ok, "{out}");
    assert!(out.contains("no Patient file"), "{out}");
}

/// The Python adapter (plugins/python-example), built with its own script,
/// on the same 10,000 patients (about 90 s: it reads several times slower
/// than Rust).
#[test]
fn python_example_conforms() {
    let wasm = gpes_plugin_artifacts::tools::python_example();
    let (ok, out) = conformance(&wasm.to_string_lossy(), "csv-export", "10000");
    assert!(ok, "{out}");
    assert_eq!(same_lines(&out), 4 + 15, "{out}");
}

fn with_writer(plugin: &str, writer: &str, patients: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gpes-plugin"))
        .args(["conformance", plugin, "--writer", writer])
        .args(["--patients", patients])
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .output()
        .expect("run gpes-plugin");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn python_writer(flags: &str) -> String {
    format!(
        "python3 {}/tests/writers/jsonl_to_csv_export.py {flags}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A format written by a command of the supplier's (here a Python script
/// writing the csv-export layout from the kit's JSON lines) is proved like
/// the project's own.
#[test]
fn a_writer_command_proves_a_format() {
    let (ok, out) = with_writer(
        gpes_plugin_artifacts::CSV_EXPORT,
        &python_writer(""),
        "1000",
    );
    assert!(ok, "{out}");
    assert!(out.contains("conformant"), "{out}");
    assert_eq!(same_lines(&out), 4 + 15, "{out}");
}

/// A writer that loses data (every observation's value) is caught by the
/// records and by the queries that read values.
#[test]
fn a_lossy_writer_is_caught() {
    let (ok, out) = with_writer(
        gpes_plugin_artifacts::CSV_EXPORT,
        &python_writer("--lossy"),
        "1000",
    );
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("all events") && l.contains("DIFFERENT")),
        "{out}"
    );
    assert!(out.contains("does not conform"), "{out}");
}

#[test]
fn a_writer_that_fails_or_writes_nothing_is_named_with_its_stderr() {
    let (ok, out) = with_writer(
        gpes_plugin_artifacts::CSV_EXPORT,
        "sh -c 'echo the export is locked >&2; exit 3' writer",
        "1000",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("the writer `sh -c"), "{out}");
    assert!(out.contains("exit status: 3"), "{out}");
    assert!(out.contains("the export is locked"), "{out}");

    let (ok, out) = with_writer(
        gpes_plugin_artifacts::CSV_EXPORT,
        "sh -c 'echo nothing to do >&2' writer",
        "1000",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("exited 0 but wrote nothing"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

fn patient_json_writer(flags: &str) -> String {
    format!(
        "python3 {}/../../plugins/python-patient-json/writer.py {flags}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A Python plugin for a format the project never writes (one JSON object
/// per patient, the tables nested inside: plugins/python-patient-json),
/// proved through its supplier's writer; the same writer made lossy is
/// caught. (Builds the component with componentize-py, about 30 s once.)
#[test]
fn a_python_plugin_of_another_structure_conforms_through_its_writer() {
    let wasm = gpes_plugin_artifacts::tools::python_patient_json();
    let wasm = wasm.to_string_lossy();
    let (ok, out) = with_writer(&wasm, &patient_json_writer(""), "1000");
    assert!(ok, "{out}");
    assert!(out.contains("conformant"), "{out}");
    assert_eq!(same_lines(&out), 4 + 15, "{out}");

    let (ok, out) = with_writer(&wasm, &patient_json_writer("--lossy"), "1000");
    assert!(!ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("all events") && l.contains("DIFFERENT")),
        "{out}"
    );
    assert!(out.contains("does not conform"), "{out}");
}
