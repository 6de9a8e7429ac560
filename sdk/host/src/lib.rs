//! The wasmtime embedding that runs supplier plugins: it compiles a plugin
//! component once, then runs each extraction in a fresh sandbox (one `Store`)
//! with a total memory cap, a wall-clock deadline that does not hold a
//! runtime thread, WASI with nothing granted and deterministic clocks and
//! randomness, and a read-only data source confined to one practice's root.
//! It pulls the plugin's record stream in batches, checks every record
//! against the data model (and counts dates after today or before the
//! patient's birth as warnings, registrations naming another practice as a
//! warning, and fails an extraction in which no registration names the
//! practice), hands each to the caller, and returns the
//! plugin's summary with the input fingerprint (name, size and SHA-256 of
//! every file opened).
//!
//!
//! [`Host::load_signed`] is the path for plugins from a supplier: it checks
//! the supplier's signature over the plugin's manifest against a trust list
//! and the wasm's SHA-256 *before* compiling anything (`gpes-sign`), then
//! refuses the plugin unless its own `describe` agrees with the manifest.
//! [`Host::load`] skips all of that; it is for tests and for the plugin
//! author's tools, never for running a supplier's plugin at a site. Both
//! compile through [`CompileCache`] when the host has one
//! ([`Host::with_cache`]), so a plugin is compiled once per build of it,
//! not once per process.
//!
//! [`run_queries`] is the one way to run queries through a plugin: several
//! queries over one practice, each pass one extraction shared by all.
//!
//! It is not the engine (`sdk/query` evaluates queries over the records),
//! it does not decide which suppliers to trust (the agent's configuration
//! does), and it knows nothing of jobs or networks: the agent decides what
//! to run and where the data is.

mod cache;
mod convert;
mod error;
mod plausibility;
mod practice;
mod queries;
mod sandbox;
mod source;

pub use cache::{CacheError, CompileCache, Compiled};
pub use error::{AccessDenied, ExtractionError, LoadError, MemoryCapExceeded};
pub use plausibility::SOURCE as HOST_CHECKS;
pub use queries::{PracticeRun, merged_request, run_queries};
pub use sandbox::{LogLevel, LogLine};
pub use source::FileFingerprint;

use gpes_model::{PluginInfo, Record, Request, Summary};
use gpes_sign::{Manifest, SignedManifest, TrustList};
use sandbox::Sandbox;
use source::DataSource;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store, Trap, UpdateDeadline};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "gpes:plugin/data-source.file": crate::sandbox::FileHandle },
    });
}

/// How often the epoch ticks: the granularity of deadlines and of yielding
/// to other tasks while a plugin runs.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// What one extraction may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Total bytes of linear memory, over all the plugin's memories.
    pub memory_bytes: usize,
    /// Wall-clock time for the whole extraction.
    pub deadline: Duration,
    /// Log lines kept; later ones are counted, not kept.
    pub max_log_lines: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 256 << 20,
            deadline: Duration::from_secs(600),
            max_log_lines: 1_000,
        }
    }
}

/// What a finished extraction reports beside the records it handed over.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extraction {
    /// The plugin's own summary: records read and mapped, counted warnings.
    pub summary: Summary,
    /// Records the host handed to the caller.
    pub records: u64,
    /// Every file the plugin opened, sorted by name.
    pub fingerprint: Vec<FileFingerprint>,
    /// What the plugin logged (at most `Limits::max_log_lines`).
    pub logs: Vec<LogLine>,
    /// Log lines beyond the limit, counted.
    pub logs_dropped: u64,
}

/// Ticks the engine's epoch until the host is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The engine and linker every plugin runs under. One per process; cheap to
/// share behind an `Arc`.
pub struct Host {
    engine: Engine,
    linker: Linker<Sandbox>,
    cache: Option<CompileCache>,
    _ticker: Ticker,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    pub fn new() -> Result<Host, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        bindings::Plugin::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;

        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gpes-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| LoadError::Engine(format!("could not start the epoch thread: {e}")))?;
        Ok(Host {
            engine,
            linker,
            cache: None,
            _ticker: Ticker {
                stop,
                thread: Some(thread),
            },
        })
    }

    /// The same host, compiling through `cache`: every load (signed or not)
    /// takes the compiled code from it when a sound entry is there, and
    /// stores it there otherwise.
    pub fn with_cache(mut self, cache: CompileCache) -> Host {
        self.cache = Some(cache);
        self
    }

    /// Loads a supplier's plugin only if it checks out: the signed
    /// manifest's signature verifies under a key `trust` holds for the
    /// supplier it names and `wasm` hashes to the manifest's SHA-256 (both
    /// before compiling), and then the plugin's `describe` (run in a fresh
    /// sandbox under `limits`) gives the manifest's name, version, supplier
    /// and data-model version.
    pub async fn load_signed(
        &self,
        wasm: &[u8],
        signed: &SignedManifest,
        trust: &TrustList,
        limits: &Limits,
    ) -> Result<Plugin, LoadError> {
        let manifest = signed.verify(wasm, trust)?;
        let plugin = self.load(wasm)?;
        let info = plugin.describe(limits).await.map_err(LoadError::Describe)?;
        agrees(manifest, &info)?;
        Ok(plugin)
    }

    /// The manifest a supplier signs for `wasm`: compiles it and fills the
    /// manifest from its own `describe`, so the two agree by construction.
    pub async fn manifest_for(&self, wasm: &[u8], limits: &Limits) -> Result<Manifest, LoadError> {
        let plugin = self.load(wasm)?;
        let info = plugin.describe(limits).await.map_err(LoadError::Describe)?;
        Ok(Manifest::new(
            info.name,
            info.version,
            info.supplier,
            info.data_model_version,
            wasm,
        ))
    }

    /// Compiles a plugin component (or takes it from the cache) and checks
    /// it fits the contract. This does **not** verify a signature: it is
    /// for tests and tools; a site loads supplier plugins with
    /// [`Host::load_signed`].
    pub fn load(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        let (component, compiled) = match &self.cache {
            Some(cache) => cache.component(&self.engine, wasm),
            None => Component::new(&self.engine, wasm).map(|c| (c, Compiled::Uncached)),
        }
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let pre =
            bindings::PluginPre::new(pre).map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        Ok(Plugin {
            engine: self.engine.clone(),
            pre,
            compiled,
        })
    }
}

/// Refuses a plugin whose `describe` disagrees with its signed manifest.
fn agrees(manifest: &Manifest, info: &PluginInfo) -> Result<(), LoadError> {
    let pairs = [
        ("name", &manifest.name, &info.name),
        ("version", &manifest.version, &info.version),
        ("supplier", &manifest.supplier, &info.supplier),
    ];
    for (field, signed, said) in pairs {
        if signed != said {
            return Err(LoadError::ManifestMismatch {
                field,
                manifest: signed.clone(),
                plugin: said.clone(),
            });
        }
    }
    if manifest.data_model_version != info.data_model_version {
        return Err(LoadError::ManifestMismatch {
            field: "data-model version",
            manifest: manifest.data_model_version.to_string(),
            plugin: info.data_model_version.to_string(),
        });
    }
    Ok(())
}

/// A compiled plugin, ready to run any number of extractions, each in a
/// sandbox of its own.
pub struct Plugin {
    engine: Engine,
    pre: bindings::PluginPre<Sandbox>,
    compiled: Compiled,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").finish_non_exhaustive()
    }
}

impl Plugin {
    /// How its compiled code was obtained (from the cache, or compiled).
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    fn store(&self, source: DataSource, limits: &Limits) -> Store<Sandbox> {
        let deadline = Instant::now() + limits.deadline;
        let sandbox = Sandbox::new(source, limits.memory_bytes, deadline, limits.max_log_lines);
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| &mut s.memory);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield through tokio so that other tasks, timers included,
                // run while the plugin computes (plain `Yield` starves them).
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store
    }

    /// What the plugin says it is, from a fresh sandbox with no data.
    pub async fn describe(&self, limits: &Limits) -> Result<PluginInfo, ExtractionError> {
        let mut store = self.store(DataSource::empty(), limits);
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .gpes_plugin_extractor()
                .call_describe(&mut store)
                .await
        }
        .await;
        result
            .map(convert::info)
            .map_err(|e| classify(e, &mut store, limits))
    }

    /// Runs one extraction over the practice data in `root`, handing every
    /// record (checked against the model) to `sink` as it arrives.
    pub async fn extract(
        &self,
        root: &Path,
        request: &Request,
        limits: &Limits,
        mut sink: impl FnMut(Record) + Send,
    ) -> Result<Extraction, ExtractionError> {
        let source = DataSource::new(root).map_err(|e| ExtractionError::Root {
            path: root.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut store = self.store(source, limits);
        let mut records = 0u64;
        let mut plausibility = plausibility::Plausibility::new(plausibility::today());
        let mut practice = practice::PracticeCheck::new(request);
        let outcome = self
            .run(&mut store, request, &mut |r| {
                records += 1;
                r.validate().map_err(|source| ExtractionError::BadRecord {
                    number: records,
                    source,
                })?;
                plausibility.check(&r);
                practice.check(&r);
                sink(r);
                Ok(())
            })
            .await;
        let mut summary = match outcome {
            Ok(Ok(summary)) => summary,
            Ok(Err(e)) => return Err(e),
            Err(trap) => return Err(classify(trap, &mut store, limits)),
        };
        // Dates after today or before birth: counted beside the plugin's own
        // warnings (the plugin has no clock, and sees no patient whole).
        summary.warnings.extend(plausibility.finish());
        // Registrations of other practices: counted; none of this one's: an
        // error rather than a silent zero.
        summary.warnings.extend(practice.finish()?);
        let data = store.data_mut();
        let fingerprint = data.source.finish();
        if let Some(name) = data.source.changed.take() {
            return Err(ExtractionError::FileChanged { name });
        }
        Ok(Extraction {
            summary,
            records,
            fingerprint,
            logs: std::mem::take(&mut data.logs),
            logs_dropped: data.logs_dropped,
        })
    }

    /// The calling protocol: extract, pull batches until none, then finish.
    /// The outer error is a trap; the inner one a refusal by the plugin or
    /// the host's checks.
    async fn run(
        &self,
        store: &mut Store<Sandbox>,
        request: &Request,
        sink: &mut (dyn FnMut(Record) -> Result<(), ExtractionError> + Send),
    ) -> wasmtime::Result<Result<Summary, ExtractionError>> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let extractor = instance.gpes_plugin_extractor();
        let handle: ResourceAny = match extractor
            .call_extract(&mut *store, &convert::request(request))
            .await?
        {
            Ok(h) => h,
            Err(e) => return Ok(Err(plugin_error(e))),
        };
        let extraction = extractor.extraction();
        let result = async {
            loop {
                match extraction.call_next_batch(&mut *store, handle).await? {
                    Ok(Some(batch)) => {
                        for r in batch {
                            if let Err(e) = sink(convert::record(r)) {
                                return Ok(Err(e));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Ok(Err(plugin_error(e))),
                }
            }
            Ok(match extraction.call_finish(&mut *store, handle).await? {
                Ok(s) => Ok(convert::summary(s)),
                Err(e) => Err(plugin_error(e)),
            })
        }
        .await;
        if result.is_ok() {
            handle.resource_drop_async(&mut *store).await?;
        }
        result
    }
}

fn plugin_error(e: bindings::gpes::plugin::types::ExtractError) -> ExtractionError {
    ExtractionError::Plugin {
        message: e.message,
        file: e.file,
    }
}

/// Sorts a trap into the reason the caller sees.
fn classify(e: wasmtime::Error, store: &mut Store<Sandbox>, limits: &Limits) -> ExtractionError {
    if let Some(cap) = e.downcast_ref::<MemoryCapExceeded>() {
        return ExtractionError::MemoryCap(cap.clone());
    }
    if let Some(denied) = e.downcast_ref::<AccessDenied>() {
        return ExtractionError::AccessDenied(denied.clone());
    }
    if let Some(denied) = store.data_mut().denied.take() {
        return ExtractionError::AccessDenied(denied);
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return ExtractionError::DeadlineExceeded {
            deadline: limits.deadline,
        };
    }
    let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
    ExtractionError::Crashed {
        message: format!("{e:#}"),
        stderr,
    }
}
