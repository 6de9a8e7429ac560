//! `gpes-plugin keygen`: a new supplier signing key.

use anyhow::Context;
use gpes_sign::SigningKey;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write `plugin-signing.key` (private, mode 0600) and
    /// `plugin-signing.pub` into; created if absent. Existing key files are
    /// never overwritten.
    #[arg(long)]
    out: PathBuf,
    /// The supplier's name, exactly as its plugins' `describe` gives it
    /// (sites trust the key for this name).
    #[arg(long)]
    supplier: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let files = SigningKey::generate_files(&args.out, &args.supplier).context("no key was made")?;
    eprintln!(
        "wrote {} (the private key: keep it secret; it is never overwritten)",
        files.private_key.display()
    );
    eprintln!(
        "wrote {} (the public key, key id {}: give it to sites, which add to their agent configuration:",
        files.public_key.display(),
        files.public.key_id()
    );
    eprintln!(
        "  [[trusted_supplier]]\n  name = \"{}\"\n  public_key = \"{}\"\n)",
        args.supplier.trim(),
        files.public
    );
    println!("{}", files.public);
    Ok(())
}
