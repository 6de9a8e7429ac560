//! Helpers for the end-to-end suites: start a real coordinator and real
//! agents on loopback (in-process, or as processes where a kill is the
//! point), with throwaway directories, real TLS and real sled stores.
//!
//! The `e2e-coordinator` and `e2e-agent` binaries of this crate are the
//! same programs as `gpes-coordinator` and `gpes-agent` (each calls the
//! library's `cli::main`), built here so the suites can run them as
//! processes.

use gpes_sign::{SignedManifest, SigningKey};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The demo practices (`examples/practices/`) and, by the rules of
/// `examples/queries/registered.yaml` (SPEC.md), how many patients each had registered on
/// 2025-03-31 (counted independently by `examples/practices/generate.py`).
pub const PRACTICES: [(&str, u64); 3] = [("A81001", 39), ("B82002", 28), ("C83003", 22)];

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A demo practice's folder.
pub fn practice_data(code: &str) -> PathBuf {
    workspace().join("examples/practices").join(code)
}

/// Copies a demo practice into `dir` (so a test may delete it).
pub fn copy_practice(code: &str, dir: &Path) -> PathBuf {
    let to = dir.join(code);
    std::fs::create_dir_all(&to).expect("mkdir");
    for entry in std::fs::read_dir(practice_data(code)).expect("practice exists") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
    to
}

/// A query of `examples/queries/`, by file name, with the codes of the
/// code-list files it names written into it (`gpes_query::fold`: the text
/// gpesctl sends), so that it stands alone.
pub fn example_query(name: &str) -> String {
    let dir = workspace().join("examples/queries");
    let text = std::fs::read_to_string(dir.join(name)).expect("example query");
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    gpes_query::fold(name, &text, &lists).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The query most suites collect: patients registered on the date.
pub fn registered_count_query() -> String {
    example_query("registered.yaml")
}

/// Every example query (`examples/queries/*.yaml`), by file name, sorted.
pub fn example_queries() -> Vec<(String, gpes_query::QuerySpec)> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("examples/queries"))
        .expect("examples")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|file| {
            let spec = gpes_query::parse(&file, &example_query(&file)).expect("valid");
            (file, spec)
        })
        .collect()
}

/// Every example query's answer (parameters at their defaults) over one
/// practice's folder read by `plugin`, all through one
/// [`gpes_host::run_queries`], as the agent runs them.
pub async fn example_answers(
    plugin: &gpes_host::Plugin,
    practice: &str,
    folder: &Path,
) -> std::collections::BTreeMap<String, gpes_query::Answer> {
    let queries = example_queries();
    let bound: Vec<gpes_query::BoundQuery> = queries
        .iter()
        .map(|(_, spec)| {
            spec.bind(practice, &Default::default())
                .expect("binds with defaults")
        })
        .collect();
    let run = gpes_host::run_queries(
        plugin,
        folder,
        practice,
        &bound,
        &gpes_host::Limits::default(),
        |_, _| {},
    )
    .await
    .expect("the queries run");
    queries
        .into_iter()
        .map(|(file, _)| file)
        .zip(run.answers)
        .collect()
}

/// The test supplier: a key made for this test process, trusted by every
/// agent the suites configure, and the csv-export plugin's manifest signed
/// with it (filled from the plugin's own `describe`).
#[derive(Debug)]
pub struct TestSupplier {
    pub key: SigningKey,
    pub signed_csv_export: SignedManifest,
}

/// The test supplier, made once per process.
pub fn test_supplier() -> &'static TestSupplier {
    static SUPPLIER: OnceLock<TestSupplier> = OnceLock::new();
    SUPPLIER.get_or_init(|| {
        // A thread of its own, so that this works from inside a runtime.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let wasm = std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("guest was built");
            let host = gpes_host::Host::new().expect("host");
            let manifest = runtime
                .block_on(host.manifest_for(&wasm, &gpes_host::Limits::default()))
                .expect("csv-export describes itself");
            let (key, _) = SigningKey::generate().expect("key");
            let signed_csv_export = manifest.sign(&key).expect("signs");
            TestSupplier {
                key,
                signed_csv_export,
            }
        })
        .join()
        .expect("signing thread")
    })
}

/// The `[[trusted_supplier]]` entry trusting `key` for the csv-export
/// plugin's supplier.
pub fn trusted_supplier_toml(key: &gpes_sign::PublicKey) -> String {
    format!(
        "[[trusted_supplier]]\nname = \"{}\"\npublic_key = \"{key}\"\n",
        test_supplier().signed_csv_export.manifest.supplier
    )
}

/// The agent configuration for the given practices, all read by the
/// csv-export plugin, signed by the test supplier, whom the configuration
/// trusts. The signed manifest is written beside `data_dir` (in its parent
/// folder, created if absent) as `csv-export.wasm.sig.json`.
pub fn agent_config(data_dir: &Path, practices: &[(&str, PathBuf)], poll_seconds: u64) -> String {
    let supplier = test_supplier();
    let parent = data_dir.parent().expect("data_dir has a parent folder");
    std::fs::create_dir_all(parent).expect("mkdir");
    let manifest = parent.join("csv-export.wasm.sig.json");
    supplier
        .signed_csv_export
        .write(&manifest)
        .expect("write the signed manifest");
    let mut text = format!(
        "data_dir = \"{}\"\n{}[limits]\npoll_seconds = {poll_seconds}\n",
        data_dir.display(),
        trusted_supplier_toml(&supplier.key.public_key())
    );
    for (code, data) in practices {
        text.push_str(&format!(
            "[[practice]]\ncode = \"{code}\"\nplugin = \"{}\"\nplugin_manifest = \"{}\"\ndata = \"{}\"\n",
            gpes_plugin_artifacts::CSV_EXPORT,
            manifest.display(),
            data.display()
        ));
    }
    text
}

/// The extract an agent would send for a job (a count of registered
/// patients, made-up inputs), changed by `change` before it is sealed: for
/// tests and benchmarks that speak for an agent.
pub fn sealed_upload_with(
    job: &gpes_protocol::Job,
    registered: u64,
    change: impl FnOnce(&mut gpes_protocol::Extract),
) -> gpes_protocol::UploadRequest {
    let mut extract = gpes_protocol::Extract {
        practice: job.practice.clone(),
        query_hash: job.query.hash,
        parameters: job.parameters.clone(),
        plugin_name: "csv-export".into(),
        plugin_version: "0.1.0".into(),
        engine_version: "0.1.0".into(),
        inputs: vec![gpes_protocol::InputFile {
            name: "patients.csv".into(),
            sha256: "ab".repeat(32),
            bytes: 1024,
        }],
        result: gpes_protocol::Answer {
            output: gpes_protocol::ResultOutput::Aggregate(gpes_protocol::AggregateResult {
                populations: vec![gpes_protocol::PopulationCount {
                    population: "REGISTERED".into(),
                    count: Some(registered),
                    suppressed: false,
                    cells: vec![],
                }],
            }),
            patients_evaluated: registered,
            passes: 1,
            excluded_by_policy: 0,
            records_without_patient: 0,
        },
        data_quality_warnings: vec![],
    };
    change(&mut extract);
    let canonical = gpes_canon::to_canonical_string(&extract).expect("canonical");
    gpes_protocol::UploadRequest {
        job_id: job.job_id.clone(),
        extract_hash: gpes_canon::ContentHash::of_bytes(canonical.as_bytes()),
        extract: canonical,
    }
}

/// [`sealed_upload_with`], unchanged.
pub fn sealed_upload(job: &gpes_protocol::Job, registered: u64) -> gpes_protocol::UploadRequest {
    sealed_upload_with(job, registered, |_| {})
}

/// The practices the suites and benchmarks name, as the registry must
/// hold them before collections or tokens may name them.
pub const TEST_PRACTICES: [&str; 7] = [
    "A81001", "B82002", "C83003", "D84004", "E85005", "P81001", "P81002",
];

/// Loads [`TEST_PRACTICES`] into a coordinator's registry, all active.
pub async fn import_test_registry(operator: &gpes_client::Uplink) {
    let request = gpes_protocol::PracticeImportRequest {
        practices: TEST_PRACTICES
            .iter()
            .map(|code| gpes_protocol::PracticeRecord {
                code: (*code).into(),
                name: format!("Test practice {code}"),
                region: "15N".into(),
                status: gpes_protocol::PracticeStatus::Active,
                open_date: Some("2000-01-01".into()),
                close_date: None,
            })
            .collect(),
        successors: vec![],
    };
    let _: gpes_protocol::PracticeImportResponse = operator
        .post(
            "/v1/practices/import",
            &request,
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("import the test practices");
}

/// Makes a new, empty database named `prefix` plus a random suffix on a
/// PostgreSQL server (a URL that may create databases), and returns its
/// URL: for the suites' coordinators and the benchmarks.
pub async fn create_database(server: &str, prefix: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!(
        "{prefix}_{}",
        gpes_coordinator::domain::random_id("db").replace('-', "_")
    );
    let mut conn = sqlx::AnyConnection::connect(server)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at {server}: {e}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}
