//! `gpesctl practice ...`: the registry, imported from the public ODS
//! files (their layouts read here), listed, shown and set.

use crate::{TIMEOUT, all_pages, encode};
use anyhow::{Context, bail};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{
    Practice, PracticeImportRequest, PracticeImportResponse, PracticeRecord, PracticeSetRequest,
    PracticeStatus, SuccessorRecord,
};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum PracticeCommand {
    /// Load the public ODS GP practice file (epraccur.csv: no header; the
    /// columns used are 1 code, 2 name, 11 open date, 12 close date (both
    /// YYYYMMDD), 13 status (A active, C closed, D dormant, P proposed), 15
    /// commissioner) and, with --successors, the ODS successor file
    /// (succ.csv: 1 practice, 2 its successor). Idempotent: prints what
    /// changed.
    Import {
        file: PathBuf,
        #[arg(long)]
        successors: Option<PathBuf>,
    },
    /// Every practice of the registry.
    List,
    Show {
        code: String,
    },
    /// Set what the ODS file does not carry.
    Set {
        code: String,
        #[arg(long)]
        supplier: Option<String>,
        #[arg(long)]
        clinical_system: Option<String>,
        /// A test practice (true or false).
        #[arg(long)]
        test: Option<bool>,
    },
}

pub async fn run(up: &Uplink, json: bool, command: &PracticeCommand) -> anyhow::Result<()> {
    match command {
        PracticeCommand::Import { file, successors } => {
            let practices = read_epraccur(file)?;
            let successors = match successors {
                Some(f) => read_successors(f)?,
                None => Vec::new(),
            };
            let mut total = PracticeImportResponse::default();
            for chunk in practices.chunks(1000) {
                let r: PracticeImportResponse = up
                    .post(
                        "/v1/practices/import",
                        &PracticeImportRequest {
                            practices: chunk.to_vec(),
                            successors: vec![],
                        },
                        TIMEOUT,
                    )
                    .await?;
                merge_import(&mut total, r);
            }
            for chunk in successors.chunks(1000) {
                let r: PracticeImportResponse = up
                    .post(
                        "/v1/practices/import",
                        &PracticeImportRequest {
                            practices: vec![],
                            successors: chunk.to_vec(),
                        },
                        TIMEOUT,
                    )
                    .await?;
                merge_import(&mut total, r);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&total)?);
            } else {
                for code in &total.added {
                    println!("added    {code}");
                }
                for (code, fields) in &total.changed {
                    println!("changed  {code}: {}", fields.join("; "));
                }
                println!(
                    "{} added, {} changed, {} unchanged",
                    total.added.len(),
                    total.changed.len(),
                    total.unchanged
                );
            }
        }
        PracticeCommand::List => {
            let all: Vec<Practice> = all_pages(up, "/v1/practices", u32::MAX).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<8} {:<36} {:<8} {:<9} {:<12} {:<16} supplier",
                    "code", "name", "region", "status", "closed", "successor"
                );
                for p in all {
                    println!(
                        "{:<8} {:<36} {:<8} {:<9} {:<12} {:<16} {}{}",
                        p.code,
                        p.name,
                        p.region,
                        p.status.as_str(),
                        p.close_date.as_deref().unwrap_or("-"),
                        p.successor.as_deref().unwrap_or("-"),
                        p.supplier.as_deref().unwrap_or("-"),
                        if p.test { " (test)" } else { "" }
                    );
                }
            }
        }
        PracticeCommand::Show { code } => {
            let p: Practice = up
                .get(&format!("/v1/practices/{}", encode(code)), TIMEOUT)
                .await?;
            print_practice(json, &p)?;
        }
        PracticeCommand::Set {
            code,
            supplier,
            clinical_system,
            test,
        } => {
            let p: Practice = up
                .post(
                    &format!("/v1/practices/{}", encode(code)),
                    &PracticeSetRequest {
                        supplier: supplier.clone(),
                        clinical_system: clinical_system.clone(),
                        test: *test,
                    },
                    TIMEOUT,
                )
                .await?;
            print_practice(json, &p)?;
        }
    }
    Ok(())
}

fn print_practice(json: bool, p: &Practice) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("practice         {} {}", p.code, p.name);
    println!("region           {}", p.region);
    println!(
        "status           {}{}",
        p.status.as_str(),
        if p.test { " (test practice)" } else { "" }
    );
    println!("opened           {}", show(&p.open_date));
    println!("closed           {}", show(&p.close_date));
    println!("successor        {}", show(&p.successor));
    println!("supplier         {}", show(&p.supplier));
    println!("clinical system  {}", show(&p.clinical_system));
    Ok(())
}

fn merge_import(total: &mut PracticeImportResponse, r: PracticeImportResponse) {
    total.added.extend(r.added);
    total.changed.extend(r.changed);
    total.unchanged += r.unchanged;
}

/// YYYYMMDD as YYYY-MM-DD; empty as none.
fn ods_date(text: &str, file: &Path, line: u64, column: usize) -> anyhow::Result<Option<String>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "{}:{line}: column {column} is '{t}', not a date YYYYMMDD",
            file.display()
        );
    }
    Ok(Some(format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..])))
}

fn csv_rows(file: &Path) -> anyhow::Result<Vec<(u64, csv::StringRecord)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", file.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record));
    }
    Ok(rows)
}

/// The ODS GP practice file (epraccur layout), the columns documented at
/// `practice import`.
fn read_epraccur(file: &Path) -> anyhow::Result<Vec<PracticeRecord>> {
    let mut out = Vec::new();
    for (line, r) in csv_rows(file)? {
        if r.len() < 15 {
            bail!(
                "{}:{line}: {} columns; the ODS practice file (epraccur) has at least 15",
                file.display(),
                r.len()
            );
        }
        let status = match r[12].trim() {
            "A" => PracticeStatus::Active,
            "C" => PracticeStatus::Closed,
            "D" => PracticeStatus::Dormant,
            "P" => PracticeStatus::Proposed,
            other => bail!(
                "{}:{line}: column 13 is '{other}', not a status (A, C, D or P)",
                file.display()
            ),
        };
        out.push(PracticeRecord {
            code: r[0].trim().to_ascii_uppercase(),
            name: r[1].trim().to_owned(),
            region: r[14].trim().to_ascii_uppercase(),
            status,
            open_date: ods_date(&r[10], file, line, 11)?,
            close_date: ods_date(&r[11], file, line, 12)?,
        });
    }
    Ok(out)
}

/// The ODS successor file: practice, successor.
fn read_successors(file: &Path) -> anyhow::Result<Vec<SuccessorRecord>> {
    let mut out = Vec::new();
    for (line, r) in csv_rows(file)? {
        if r.len() < 2 {
            bail!(
                "{}:{line}: the successor file needs at least 2 columns",
                file.display()
            );
        }
        out.push(SuccessorRecord {
            code: r[0].trim().to_ascii_uppercase(),
            successor: r[1].trim().to_ascii_uppercase(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/registry")
            .join(name)
    }

    #[test]
    fn the_example_registry_files_read_as_the_ods_layouts_say() {
        let practices = read_epraccur(&example("epraccur.csv")).expect("epraccur");
        assert_eq!(practices.len(), 4);
        assert_eq!(practices[0].code, "A81001");
        assert_eq!(practices[0].name, "EXAMPLE SURGERY ONE");
        assert_eq!(practices[0].region, "16C");
        assert_eq!(practices[0].status, PracticeStatus::Active);
        assert_eq!(practices[0].open_date.as_deref(), Some("1974-04-01"));
        assert_eq!(practices[0].close_date, None);
        assert_eq!(practices[3].status, PracticeStatus::Closed);
        assert_eq!(practices[3].close_date.as_deref(), Some("2024-03-31"));
        let successors = read_successors(&example("succ.csv")).expect("succ");
        assert_eq!(
            successors,
            [SuccessorRecord {
                code: "C83099".into(),
                successor: "C83003".into()
            }]
        );
    }

    #[test]
    fn a_bad_registry_line_names_its_file_line_and_column() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("epraccur.csv");
        let good = std::fs::read_to_string(example("epraccur.csv")).expect("read");
        let first = good.lines().next().expect("line");
        std::fs::write(
            &file,
            format!("{first}\n{}\n", first.replace("19740401", "1974-04")),
        )
        .expect("write");
        let err = read_epraccur(&file).expect_err("bad date").to_string();
        assert!(
            err.contains("epraccur.csv:2: column 11 is '1974-04'"),
            "{err}"
        );
        std::fs::write(&file, first.replace("\"A\",\"B\"", "\"X\",\"B\"")).expect("write");
        let err = read_epraccur(&file).expect_err("bad status").to_string();
        assert!(err.contains("column 13 is 'X'"), "{err}");
        std::fs::write(&file, "\"A81001\",\"SHORT\"\n").expect("write");
        let err = read_epraccur(&file).expect_err("short").to_string();
        assert!(err.contains("2 columns"), "{err}");
    }
}
