//! `gpes-plugin sign`: the signed manifest of a plugin, its fields taken
//! from the plugin's own `describe` so that they agree by construction.

use anyhow::{Context, bail};
use gpes_host::Limits;
use gpes_sign::SigningKey;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin (a WebAssembly component).
    plugin: PathBuf,
    /// The supplier's private key (`plugin-signing.key` from `keygen`).
    #[arg(long)]
    key: PathBuf,
    /// Refuse unless the plugin's `describe` names this supplier (a check
    /// that you are signing the plugin you mean to).
    #[arg(long)]
    supplier: Option<String>,
    /// Where to write the signed manifest [default: PLUGIN.sig.json, beside
    /// the plugin]. An older signature there is replaced.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    cache: crate::load::CacheArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = SigningKey::read(&args.key)?;
    let wasm = std::fs::read(&args.plugin)
        .with_context(|| format!("could not read the plugin {}", args.plugin.display()))?;
    let host = crate::load::host(&args.cache)?;
    let manifest = crate::block_on(host.manifest_for(&wasm, &Limits::default()))?
        .with_context(|| format!("could not sign {}", args.plugin.display()))?;
    if let Some(supplier) = &args.supplier
        && *supplier != manifest.supplier
    {
        bail!(
            "{} says its supplier is '{}', not '{supplier}'; nothing was signed (sign it as its own supplier, or fix the plugin's describe)",
            args.plugin.display(),
            manifest.supplier
        );
    }
    let out = args
        .out
        .unwrap_or_else(|| gpes_sign::default_manifest_path(&args.plugin));
    let signed = manifest.sign(&key)?;
    signed.write(&out)?;
    eprintln!(
        "signed {} {} ({}, data model v{}) with key {}",
        signed.manifest.name,
        signed.manifest.version,
        signed.manifest.supplier,
        signed.manifest.data_model_version,
        signed.key_id
    );
    println!("{}", out.display());
    Ok(())
}
