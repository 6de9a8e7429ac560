//! `gpesctl query ...`: query files offline (check them, explain them in
//! plain English, without the coordinator), and the coordinator's query
//! library (push a version, list, show, diff two versions).

use crate::{TIMEOUT, all_pages, encode, when};
use anyhow::Context;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{PushQueryRequest, PushQueryResponse, QueryVersion};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Parse and validate query files; print each one's id and hash.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a query's rules in plain English.
    Explain { file: PathBuf },
    /// Store a query file in the coordinator's library, with the code
    /// lists it names folded in: a new version when it changed, else the
    /// version that holds it.
    Push { file: PathBuf },
    /// The library: each query's newest version.
    List,
    /// One query's versions, or (with --version) one version's text.
    Show {
        id: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// What changed between two versions of a query, line by line.
    Diff { id: String, from: u32, to: u32 },
}

impl QueryCommand {
    /// Whether the command needs the coordinator.
    pub fn online(&self) -> bool {
        !matches!(
            self,
            QueryCommand::Check { .. } | QueryCommand::Explain { .. }
        )
    }
}

/// Reads a query file and folds in the code lists it names (read beside
/// it), so that the coordinator and agents see the whole query.
pub fn read_folded(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    gpes_query::fold(&path.display().to_string(), &text, &lists).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn version(up: &Uplink, id: &str, version: u32) -> anyhow::Result<QueryVersion> {
    Ok(up
        .get(&format!("/v1/queries/{}/{version}", encode(id)), TIMEOUT)
        .await?)
}

/// The library commands.
pub async fn run_online(up: &Uplink, json: bool, command: &QueryCommand) -> anyhow::Result<()> {
    match command {
        QueryCommand::Check { .. } | QueryCommand::Explain { .. } => {
            anyhow::bail!("check and explain work offline")
        }
        QueryCommand::Push { file } => {
            let source = read_folded(file)?;
            let r: PushQueryResponse = up
                .post("/v1/queries", &PushQueryRequest { source }, TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{} version {} ({}): {}",
                    r.query.id,
                    r.query.version,
                    r.query.hash,
                    if r.created {
                        "new"
                    } else {
                        "the library holds it already"
                    }
                );
            }
        }
        QueryCommand::List => {
            let all: Vec<QueryVersion> = all_pages(up, "/v1/queries", u32::MAX).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<24} {:>7} {:<23} {:<16} title",
                    "query", "version", "pushed", "by"
                );
                for q in all {
                    println!(
                        "{:<24} {:>7} {:<23} {:<16} {}",
                        q.id,
                        q.version,
                        when(Some(q.pushed_ms)),
                        q.pushed_by,
                        q.title
                    );
                }
            }
        }
        QueryCommand::Show { id, version: None } => {
            let all: Vec<QueryVersion> = up
                .get(&format!("/v1/queries/{}", encode(id)), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for q in all {
                    println!(
                        "{} version {}  {}  by {}  {}",
                        q.id,
                        q.version,
                        when(Some(q.pushed_ms)),
                        q.pushed_by,
                        q.hash
                    );
                }
            }
        }
        QueryCommand::Show {
            id,
            version: Some(v),
        } => {
            let q = version(up, id, *v).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&q)?);
            } else {
                print!("{}", q.source.unwrap_or_default());
            }
        }
        QueryCommand::Diff { id, from, to } => {
            let a = version(up, id, *from).await?;
            let b = version(up, id, *to).await?;
            let text = diff_lines(
                a.source.as_deref().unwrap_or(""),
                b.source.as_deref().unwrap_or(""),
            );
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "id": id, "from": a.version, "to": b.version,
                        "from_hash": a.hash, "to_hash": b.hash, "diff": text,
                    }))?
                );
            } else {
                println!("--- {id} version {} ({})", a.version, a.hash);
                println!("+++ {id} version {} ({})", b.version, b.hash);
                print!("{text}");
            }
        }
    }
    Ok(())
}

/// The lines of `a` and `b` with what changed marked: `-` only in `a`,
/// `+` only in `b`, and two unchanged lines of context around each change
/// (a longest-common-subsequence diff; queries are small).
pub fn diff_lines(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    if a.len().saturating_mul(b.len()) > 25_000_000 {
        return "the versions are too long to compare line by line\n".into();
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut marked: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            marked.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            marked.push(('-', a[i]));
            i += 1;
        } else {
            marked.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let changed: Vec<usize> = (0..marked.len()).filter(|&k| marked[k].0 != ' ').collect();
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (k, (mark, line)) in marked.iter().enumerate() {
        let near = changed
            .iter()
            .any(|&c| k + CONTEXT >= c && k <= c + CONTEXT);
        if !near {
            continue;
        }
        if let Some(last) = last_shown
            && k > last + 1
        {
            out.push_str("...\n");
        }
        out.push(*mark);
        out.push(' ');
        out.push_str(line);
        out.push('\n');
        last_shown = Some(k);
    }
    if changed.is_empty() {
        out.push_str("(no difference in the text)\n");
    }
    out
}

/// Reads and parses a query file; on failure prints every diagnostic
/// (`FILE:LINE:COL: message`) to stderr.
fn load_query(path: &Path) -> Option<gpes_query::QuerySpec> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: cannot read: {e}");
            return None;
        }
    };
    // Code lists the query names are read beside it.
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lists = move |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
    match gpes_query::parse_with(&name, &text, &lists) {
        Ok(spec) => Some(spec),
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            None
        }
    }
}

/// The offline `query` commands; the exit code says whether every file
/// was valid.
pub fn run(command: &QueryCommand) -> ExitCode {
    match command {
        QueryCommand::Check { files } => {
            let mut ok = true;
            for f in files {
                let Some(spec) = load_query(f) else {
                    ok = false;
                    continue;
                };
                match spec.content_hash() {
                    Ok(hash) => println!("{}: ok (id {}, hash {hash})", f.display(), spec.id),
                    Err(e) => {
                        eprintln!("{}: cannot hash the query: {e}", f.display());
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        QueryCommand::Explain { file } => match load_query(file) {
            Some(spec) => {
                print!("{}", spec.explain());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        QueryCommand::Push { .. }
        | QueryCommand::List
        | QueryCommand::Show { .. }
        | QueryCommand::Diff { .. } => {
            eprintln!("gpesctl: this query command needs the coordinator");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::diff_lines;

    #[test]
    fn a_diff_marks_what_changed_with_context() {
        let a = "id: q\ntitle: A\nx: 1\ny: 2\nz: 3\nw: 4\nv: 5\n";
        let b = "id: q\ntitle: B\nx: 1\ny: 2\nz: 3\nw: 4\nv: 5\nu: 6\n";
        assert_eq!(
            diff_lines(a, b),
            "  id: q\n- title: A\n+ title: B\n  x: 1\n  y: 2\n...\n  w: 4\n  v: 5\n+ u: 6\n"
        );
        assert_eq!(diff_lines(a, a), "(no difference in the text)\n");
    }
}
