use gpes_host::{Extraction, ExtractionError, Host, Limits, Plugin};
use gpes_model::{Date, Record, Request};
use gpes_query::{Answer, BoundQuery};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// One host for the whole test binary, as in the agent.
pub static HOST: LazyLock<Host> = LazyLock::new(|| Host::new().expect("host starts"));

static PLUGINS: LazyLock<Mutex<HashMap<&'static str, Arc<Plugin>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A guest compiled once per test binary.
pub fn plugin(path: &'static str) -> Arc<Plugin> {
    let mut cache = PLUGINS.lock().expect("not poisoned");
    cache
        .entry(path)
        .or_insert_with(|| {
            let wasm = std::fs::read(path).expect("guest was built");
            Arc::new(HOST.load(&wasm).expect("guest loads"))
        })
        .clone()
}

pub const PRACTICE: &str = "A81001";

pub fn reference_date() -> Date {
    Date::ymd(2025, 3, 31).expect("valid")
}

/// The hand-made practice of `plugins/csv-export/testdata/a81001`, copied
/// into a fresh temporary folder so a test may change it.
pub fn practice() -> tempfile::TempDir {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/csv-export/testdata/a81001");
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&src).expect("testdata exists") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".csv") {
            std::fs::copy(entry.path(), dir.path().join(name)).expect("copy");
        }
    }
    dir
}

/// The query most host tests run: the patients registered on the
/// reference date (`examples/queries/registered.yaml`).
pub fn query() -> BoundQuery {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries/registered.yaml"),
    )
    .expect("the example query");
    let spec = gpes_query::parse("registered.yaml", &text).expect("valid");
    let params = [("PPED".to_string(), reference_date().to_string())].into();
    spec.bind(PRACTICE, &params).expect("binds")
}

pub fn request_for(query: &BoundQuery) -> Request {
    query.needs().request(PRACTICE)
}

/// What [`count`] gives: the registered count and what the engine saw.
#[derive(Debug)]
pub struct Registered {
    pub registered: u64,
    pub registrations_without_patient: u64,
}

impl Registered {
    pub fn of(answer: &Answer) -> Registered {
        Registered {
            registered: answer.count("REGISTERED").expect("an aggregate count"),
            registrations_without_patient: answer.records_without_patient,
        }
    }
}

/// Runs the registered-count query with a plugin over a folder (one pass:
/// the plugin's own extraction is returned whole).
pub async fn count(
    plugin: &Plugin,
    root: &Path,
    limits: &Limits,
) -> Result<(Registered, Extraction), ExtractionError> {
    let q = query();
    assert_eq!(q.passes(), 1);
    let mut eval = q.evaluation();
    let extraction = plugin
        .extract(root, &request_for(&q), limits, |r: Record| eval.push(&r))
        .await?;
    Ok((Registered::of(&eval.finish()), extraction))
}

/// The good extraction every misbehaviour test runs afterwards, to show the
/// host still serves.
pub async fn good_extraction_succeeds() {
    let dir = practice();
    let (count, _) = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect("the good extraction succeeds");
    assert_eq!(count.registered, 8);
}

pub fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
