//! Loading a plugin for the author's commands: one host, compiling through
//! the on-disk compile cache (`gpes_host::CompileCache`), so a plugin is
//! compiled once per build of it rather than on every command (seconds for
//! a Rust plugin, tens of seconds for a Python one), and a progress line on
//! stderr saying what it cost.

use anyhow::{Context, anyhow};
use gpes_host::{CompileCache, Compiled, Host, Plugin};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where compiled plugins are kept.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Keep compiled plugins in this folder (made mode 0700) [default:
    /// $XDG_CACHE_HOME/gpes-plugin, else ~/.cache/gpes-plugin].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the plugin afresh and keep nothing.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache folder, unless caching is off or there is nowhere to put
    /// it.
    fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        // The XDG base directory rules: a relative XDG_CACHE_HOME is ignored.
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|home| home.join(".cache"))
            })?;
        Some(base.join("gpes-plugin"))
    }
}

/// A host that compiles through the cache `args` names. A folder given with
/// `--cache-dir` that cannot be used is an error; the default one, a
/// warning (the commands work without a cache, only slower).
pub fn host(args: &CacheArgs) -> anyhow::Result<Host> {
    let host = Host::new().map_err(|e| anyhow!("{e}"))?;
    let Some(dir) = args.dir() else {
        return Ok(host);
    };
    match CompileCache::open(&dir) {
        Ok(cache) => Ok(host.with_cache(cache)),
        Err(e) if args.cache_dir.is_some() => Err(anyhow!("{e}")),
        Err(e) => {
            eprintln!("warning: {e}; compiling without a cache (see --cache-dir)");
            Ok(host)
        }
    }
}

/// Reads and compiles (or takes from the cache) the plugin at `path`,
/// unverified: these are the author's own plugins. Says on stderr how
/// long it took and where the code came from. The host is returned with
/// the plugin, since its epoch thread enforces deadlines while it lives.
pub fn plugin(path: &Path, args: &CacheArgs) -> anyhow::Result<(Host, Plugin)> {
    let wasm = std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let host = host(args)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    eprint!("loading {name} ({:.1} MB)… ", wasm.len() as f64 / 1e6);
    let started = Instant::now();
    let plugin = host.load(&wasm);
    let took = format!("{:.1} s", started.elapsed().as_secs_f64());
    let plugin = match plugin {
        Ok(p) => p,
        Err(e) => {
            eprintln!("failed after {took}");
            return Err(anyhow!("{} is not a usable plugin: {e}", path.display()));
        }
    };
    match plugin.compiled() {
        Compiled::FromCache => eprintln!("{took}, compiled code from the cache"),
        Compiled::Stored { replaced: None } => eprintln!("compiled in {took}, cached"),
        Compiled::Stored {
            replaced: Some(why),
        } => eprintln!("compiled in {took}, cached (the cached copy was discarded: {why})"),
        Compiled::NotStored { reason } => eprintln!("compiled in {took}, NOT cached: {reason}"),
        Compiled::Uncached => eprintln!("compiled in {took} (no cache)"),
        other => eprintln!("compiled in {took} ({other:?})"),
    }
    Ok((host, plugin))
}
