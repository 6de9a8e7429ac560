//! A run's results exported whole, streamed a page at a time from the
//! store (never held in memory): CSV or JSON, one row per practice and
//! population, and one more per breakdown cell. A store failure part-way
//! aborts the response, so a truncated file is never taken for a whole
//! one.

use super::App;
use super::auth::Operator;
use super::error::ApiError;
use crate::db;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gpes_protocol::{ResultOutput, ResultRow, RunSummary};
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
    /// Only this practice's rows (what a practice's users must ask for).
    #[serde(default)]
    practice: Option<String>,
}

/// One exported row.
#[derive(Debug, Serialize)]
struct Line<'a> {
    run: &'a str,
    collection: &'a str,
    practice: &'a str,
    status: String,
    population: &'a str,
    sex: &'a str,
    age_band: &'a str,
    count: Option<u64>,
    suppressed: bool,
    late: bool,
    extract_hash: String,
}

const COLUMNS: [&str; 11] = [
    "run",
    "collection",
    "practice",
    "status",
    "population",
    "sex",
    "age_band",
    "count",
    "suppressed",
    "late",
    "extract_hash",
];

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn lines<'a>(summary: &'a RunSummary, row: &'a ResultRow) -> Vec<Line<'a>> {
    let status = match serde_json::to_value(row.status) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    };
    let base = |population: &'a str, sex: &'a str, age_band: &'a str, count, suppressed| Line {
        run: &summary.run.id,
        collection: &summary.run.collection_id,
        practice: &row.practice,
        status: status.clone(),
        population,
        sex,
        age_band,
        count,
        suppressed,
        late: row.late,
        extract_hash: row
            .extract_hash
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    match row.result.as_ref().map(|a| &a.output) {
        Some(ResultOutput::Aggregate(a)) => {
            for p in &a.populations {
                out.push(base(&p.population, "", "", p.count, p.suppressed));
                for c in &p.cells {
                    out.push(base(
                        &p.population,
                        c.sex.as_deref().unwrap_or(""),
                        c.age_band.as_deref().unwrap_or(""),
                        c.count,
                        c.suppressed,
                    ));
                }
            }
        }
        _ => out.push(base("", "", "", None, false)),
    }
    out
}

fn render(format: &str, first: &mut bool, lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    for l in lines {
        if format == "csv" {
            let fields = [
                csv_field(l.run),
                csv_field(l.collection),
                csv_field(l.practice),
                csv_field(&l.status),
                csv_field(l.population),
                csv_field(l.sex),
                csv_field(l.age_band),
                l.count.map(|c| c.to_string()).unwrap_or_default(),
                l.suppressed.to_string(),
                l.late.to_string(),
                csv_field(&l.extract_hash),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        } else {
            if !*first {
                out.push_str(",\n");
            }
            out.push_str(&serde_json::to_string(l).unwrap_or_default());
        }
        *first = false;
    }
    out
}

/// A body fed by a task through a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// `GET /v1/runs/{id}/export?format=csv|json`: an audited read.
pub async fn export_run(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = q.format.unwrap_or_else(|| "csv".into());
    let content_type = match format.as_str() {
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        other => {
            return Err(ApiError::bad_request(format!(
                "format must be csv or json, not '{other}'"
            )));
        }
    };
    let only = super::operator::results_scope(&app, &operator, q.practice.as_deref()).await?;
    let summary = db::jobs::run_summary(&app.db, &id).await?;
    if summary.run.kind == gpes_protocol::RunKind::DryRun {
        return Err(crate::domain::Refusal::Exists(format!(
            "run '{id}' is a dry run: it is never exported or delivered; read its results"
        ))
        .into());
    }
    db::audit::record(
        &app.db,
        &operator.did(
            "results.export",
            &id,
            serde_json::json!({ "format": format, "practice": only }),
        ),
        app.now_ms(),
    )
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = app.db.clone();
    tokio::spawn(async move {
        let mut first = true;
        let head = if format == "csv" {
            format!("{}\n", COLUMNS.join(","))
        } else {
            "[\n".to_owned()
        };
        if tx.send(Ok(Bytes::from(head))).await.is_err() {
            return;
        }
        let mut cursor: Option<String> = None;
        loop {
            let page = db::jobs::results_page(
                &db,
                &summary.run.id,
                only.as_deref(),
                cursor.as_deref(),
                1000,
                super::operator::PAGE_BYTES,
            )
            .await;
            let (rows, next) = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, run = %summary.run.id, "export failed part-way");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let mut chunk = String::new();
            for row in &rows {
                chunk.push_str(&render(&format, &mut first, &lines(&summary, row)));
            }
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        if format == "json" {
            let _ = tx.send(Ok(Bytes::from_static(b"\n]\n"))).await;
        }
    });
    Ok((
        [(http::header::CONTENT_TYPE, content_type)],
        Body::new(ChannelBody(rx)),
    )
        .into_response())
}
