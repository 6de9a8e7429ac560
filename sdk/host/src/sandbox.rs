//! The per-extraction store data: WASI with nothing granted and with
//! deterministic clocks and randomness, the memory cap, the deadline, the
//! data source and the plugin's log.

use crate::bindings::gpes::plugin::{data_source, log, types};
use crate::error::MemoryCapExceeded;
use crate::source::{DataSource, SourceFailure};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::ResourceLimiter;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

/// Bytes of the plugin's stderr kept (a panic message fits easily).
const STDERR_CAPACITY: usize = 16 * 1024;
/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 4 * 1024;
/// Table elements allowed (function references; a pointer each).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A plugin's file handle, as the host's bindings see it: an index into the
/// extraction's [`DataSource`].
#[derive(Debug)]
pub struct FileHandle;

/// One line the plugin logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Caps the sum of all linear memories of one store (wasmtime's own
/// `StoreLimits` caps each memory separately).
pub struct MemoryCap {
    cap: usize,
    used: usize,
    last_growth: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        let requested = self.used.saturating_add(growth);
        if requested > self.cap {
            return Err(MemoryCapExceeded {
                cap: self.cap,
                requested,
            }
            .into());
        }
        self.used = requested;
        self.last_growth = growth;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used = self.used.saturating_sub(self.last_growth);
        self.last_growth = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The wall clock a plugin sees: always the Unix epoch.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// The monotonic clock a plugin sees: starts at zero and advances one
/// microsecond each time it is read, so it never runs backwards and never
/// depends on the machine.
#[derive(Default)]
struct CountingClock {
    ticks: AtomicU64,
}

impl HostMonotonicClock for CountingClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.ticks.fetch_add(1_000, Ordering::Relaxed)
    }
}

/// The bytes every random source a plugin sees cycles through.
const RANDOM_BYTES: [u8; 8] = [0x67, 0x70, 0x65, 0x73, 0x2d, 0x68, 0x6f, 0x73];

pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryCap,
    pub source: DataSource,
    pub deadline: Instant,
    pub stderr: MemoryOutputPipe,
    pub logs: Vec<LogLine>,
    pub logs_dropped: u64,
    max_logs: usize,
    /// Set when the data source refused a name; ends the extraction.
    pub denied: Option<crate::error::AccessDenied>,
}

impl Sandbox {
    pub fn new(
        source: DataSource,
        memory_cap: usize,
        deadline: Instant,
        max_logs: usize,
    ) -> Sandbox {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            // Nothing is granted: no preopens, environment, arguments,
            // network or stdin. Stdout is discarded; stderr is kept (bounded)
            // to explain a crash.
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenWallClock)
            .monotonic_clock(CountingClock::default())
            .secure_random(wasmtime_wasi::Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random_seed(0x6770_6573)
            .max_random_size(64 * 1024)
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                cap: memory_cap,
                used: 0,
                last_growth: 0,
            },
            source,
            deadline,
            stderr,
            logs: Vec::new(),
            logs_dropped: 0,
            max_logs,
            denied: None,
        }
    }

    /// Turns a data-source failure into what the plugin sees; a refused name
    /// is a trap, so the plugin cannot carry on as if nothing happened.
    fn answer<T>(
        &mut self,
        r: Result<T, SourceFailure>,
    ) -> wasmtime::Result<Result<T, data_source::SourceError>> {
        match r {
            Ok(v) => Ok(Ok(v)),
            Err(SourceFailure::NotFound(m)) => Ok(Err(data_source::SourceError::NotFound(m))),
            Err(SourceFailure::Io(m)) => Ok(Err(data_source::SourceError::Io(m))),
            Err(SourceFailure::Denied(d)) => {
                self.denied = Some(d.clone());
                Err(d.into())
            }
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for Sandbox {}

impl log::Host for Sandbox {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
        };
        if self.logs.len() >= self.max_logs {
            self.logs_dropped += 1;
            return Ok(());
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [cut]");
        }
        tracing::debug!(target: "gpes_host::plugin", ?level, %message, "plugin log");
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}

impl data_source::Host for Sandbox {
    async fn list(&mut self) -> wasmtime::Result<Result<Vec<String>, data_source::SourceError>> {
        let r = self.source.list();
        self.answer(r)
    }

    async fn open(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<FileHandle>, data_source::SourceError>> {
        let r = self.source.open(&name).map(Resource::new_own);
        self.answer(r)
    }
}

impl data_source::HostFile for Sandbox {
    async fn read(
        &mut self,
        file: Resource<FileHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, data_source::SourceError>> {
        let r = self.source.read(file.rep(), max);
        self.answer(r)
    }

    async fn drop(&mut self, file: Resource<FileHandle>) -> wasmtime::Result<()> {
        self.source.close(file.rep());
        Ok(())
    }
}
