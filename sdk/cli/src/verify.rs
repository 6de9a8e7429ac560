//! `gpes-plugin verify`: the agent's check, run by hand. Exit 0 if the
//! plugin would load at a site trusting the given keys, 1 if not.

use anyhow::{Context, bail};
use gpes_host::Limits;
use gpes_sign::{SignedManifest, TrustList};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin (a WebAssembly component).
    plugin: PathBuf,
    /// Its signed manifest [default: PLUGIN.sig.json, beside the plugin].
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Trusted public key files (`plugin-signing.pub`: the key line, then
    /// the supplier's name). Give one or more.
    #[arg(long, required = true, num_args = 1..)]
    trust: Vec<PathBuf>,
    /// Trust the keys for this supplier, whatever their files name.
    #[arg(long)]
    supplier: Option<String>,
    #[command(flatten)]
    cache: crate::load::CacheArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut trust = TrustList::new();
    for path in &args.trust {
        let (key, named) = gpes_sign::read_public_key_file(path)?;
        let Some(supplier) = args.supplier.clone().or(named) else {
            bail!(
                "{} names no supplier after the key; give --supplier, or add the supplier's name after the key on its line",
                path.display()
            );
        };
        trust.trust(supplier, key);
    }
    let manifest_path = args
        .manifest
        .unwrap_or_else(|| gpes_sign::default_manifest_path(&args.plugin));
    let signed = SignedManifest::read(&manifest_path)?;
    let wasm = std::fs::read(&args.plugin)
        .with_context(|| format!("could not read the plugin {}", args.plugin.display()))?;
    let host = crate::load::host(&args.cache)?;
    crate::block_on(host.load_signed(&wasm, &signed, &trust, &Limits::default()))?
        .with_context(|| format!("{} is refused", args.plugin.display()))?;
    let m = &signed.manifest;
    println!(
        "ok: {} {} by {} (data model v{}), sha256 {}, signed with key {}",
        m.name, m.version, m.supplier, m.data_model_version, m.wasm_sha256, signed.key_id
    );
    Ok(())
}
