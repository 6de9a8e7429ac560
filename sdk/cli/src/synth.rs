//! `gpes-plugin synth`: a synthetic practice written in a supplier format,
//! for trying a plugin on realistic data (the same generator, and the same
//! patients for the same seed, whatever the format).

use anyhow::{Context, anyhow};
use gpes_synth::{Practice, PracticeConfig};
use std::path::{Path, PathBuf};

/// The supplier formats the generator can write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The relational CSV export (plugins/csv-export/FORMAT.md).
    CsvExport,
    /// A FHIR R4 bulk-data export, NDJSON (plugins/fhir-ndjson/README.md).
    FhirNdjson,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::CsvExport => "csv-export",
            Format::FhirNdjson => "fhir-ndjson",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum)]
    pub format: Format,
    /// The folder to write (created; must not hold files already).
    #[arg(long)]
    pub out: PathBuf,
    /// Patients (1,000 to 100,000).
    #[arg(long, default_value_t = 10_000)]
    pub patients: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// ODS code of the practice.
    #[arg(long, default_value = "A81001")]
    pub practice: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = PracticeConfig::new(args.seed, args.practice, args.patients);
    config.check().map_err(|e| anyhow!("{e}"))?;
    let practice = gpes_synth::generate(&config);
    write(args.format, &practice, &args.out)?;
    let stats = practice.stats();
    println!(
        "wrote {} ({} patients, seed {}) as {} to {}",
        practice.practice,
        stats.patients,
        config.seed,
        args.format.name(),
        args.out.display()
    );
    Ok(())
}

/// Writes `practice` into `folder` (which must be new or empty).
pub fn write(format: Format, practice: &Practice, folder: &Path) -> anyhow::Result<()> {
    if folder
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(anyhow!(
            "{} already holds files; give a new or empty folder",
            folder.display()
        ));
    }
    std::fs::create_dir_all(folder)
        .with_context(|| format!("could not create {}", folder.display()))?;
    match format {
        Format::CsvExport => gpes_synth::write_csv_export(practice, folder),
        Format::FhirNdjson => gpes_synth::write_fhir_ndjson(practice, folder).map(|_| ()),
    }
    .with_context(|| format!("could not write {}", folder.display()))
}
