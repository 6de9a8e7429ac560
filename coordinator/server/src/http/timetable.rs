//! The timetable: every active collection's runs due in the coming weeks,
//! with where each practice stands, as JSON (`GET /v1/timetable`) and as
//! an iCalendar feed (RFC 5545) a calendar program subscribes to. Calendar
//! programs cannot send a bearer token, so each user may make feed
//! addresses holding a secret (kept hashed, revocable); a feed shows what
//! its user's grants reach, as the JSON does.

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::domain;
use crate::domain::grants::{Permission, Reach};
use crate::scheduler::ms;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use gpes_protocol::{
    CalendarFeed, CreateFeedRequest, CreateFeedResponse, PracticeParticipation, TimetableEntry,
};
use http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/timetable", get(timetable))
        .route("/v1/me/feeds", get(list_feeds).post(create_feed))
        .route("/v1/me/feeds/{id}/revoke", post(revoke_feed))
        .route("/feeds/{secret}/timetable.ics", get(feed))
}

/// `?weeks=N` (1 to 26, 4 when absent) and `?from=YYYY-MM-DD` (a London
/// date; now when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimetableQuery {
    #[serde(default)]
    weeks: Option<u32>,
    #[serde(default)]
    from: Option<String>,
}

impl TimetableQuery {
    /// The window asked for: from (now, or the London midnight starting
    /// the date given) for the weeks given.
    fn window(
        &self,
        now: DateTime<Utc>,
        default_weeks: u32,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let weeks = self.weeks.unwrap_or(default_weeks);
        if !(1..=26).contains(&weeks) {
            return Err(ApiError::unprocessable(format!(
                "weeks must be between 1 and 26, not {weeks}"
            )));
        }
        let from = match &self.from {
            None => now,
            Some(text) => {
                let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    ApiError::unprocessable(format!("from must be a date YYYY-MM-DD, not '{text}'"))
                })?;
                let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
                midnight
                    .and_local_timezone(gpes_schedule::TIME_ZONE)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| midnight.and_utc())
            }
        };
        Ok((from, from + chrono::Duration::weeks(i64::from(weeks))))
    }
}

/// Most entries the timetable gives at once.
const TIMETABLE_MAX: usize = 5_000;

async fn timetable(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<TimetableQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<TimetableEntry>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (from, until) = q.window(app.clock.now(), 4)?;
    Ok(Json(entries(&app, &operator.reach(), from, until).await?))
}

/// Every active collection's runs due from `from` until `until` that reach
/// a practice within `reach`, soonest first.
pub async fn entries(
    app: &App,
    reach: &Reach,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<TimetableEntry>, ApiError> {
    let mine: Option<BTreeSet<String>> = if reach.everything {
        None
    } else {
        let mut codes = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = db::practices::page(&app.db, cursor.as_deref(), 1000, reach).await?;
            codes.extend(page.into_iter().map(|p| p.code));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        Some(codes)
    };
    let mut out = Vec::new();
    for (collection, _) in db::collections::scheduled(&app.db).await? {
        let Ok(schedule) = gpes_schedule::Schedule::parse(&collection.schedule) else {
            continue;
        };
        let mut tx = app.db.pool().begin().await.map_err(domain::Refusal::from)?;
        let (practices, _) =
            db::practices::resolve_targets(&mut tx, &collection.practices, &collection.targeting)
                .await?;
        tx.rollback().await.map_err(domain::Refusal::from)?;
        let theirs: BTreeSet<String> = match &mine {
            None => BTreeSet::new(),
            Some(codes) => practices.intersection(codes).cloned().collect(),
        };
        if mine.is_some() && theirs.is_empty() {
            continue;
        }
        // A decision counts from the next run, so every upcoming run
        // shows where each practice stands now.
        let asked = if mine.is_some() { &theirs } else { &practices };
        let standing = db::participation::states(&app.db, &collection, asked).await?;
        let participating = standing.values().filter(|s| s.takes_part()).count() as u64;
        let participation: Vec<PracticeParticipation> = if mine.is_some() {
            standing
                .into_iter()
                .map(|(practice, participation)| PracticeParticipation {
                    practice,
                    participation,
                })
                .collect()
        } else {
            Vec::new()
        };
        for due in schedule.fires_between(from, until) {
            out.push(TimetableEntry {
                collection_id: collection.id.clone(),
                collection_name: collection.name.clone(),
                due_ms: ms(due),
                due_local: due.with_timezone(&gpes_schedule::TIME_ZONE).to_rfc3339(),
                practice_count: practices.len() as u64,
                practices: theirs.iter().cloned().collect(),
                participation_mode: collection.terms.participation,
                participating,
                participation: participation.clone(),
            });
            if out.len() > TIMETABLE_MAX {
                return Err(ApiError::unprocessable(format!(
                    "more than {TIMETABLE_MAX} runs are due in that window: ask for fewer weeks"
                )));
            }
        }
    }
    out.sort_by(|a, b| (a.due_ms, &a.collection_id).cmp(&(b.due_ms, &b.collection_id)));
    Ok(out)
}

/// A feed's secret: 256 random bits, base64url.
fn new_feed_secret() -> Result<String, ApiError> {
    use base64::Engine;
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system's random source failed"))?;
    Ok(format!(
        "gpes-feed-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

async fn create_feed(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<CreateFeedRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<CreateFeedResponse>), ApiError> {
    let label = request
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > 100 || l.chars().any(char::is_control)) {
        return Err(ApiError::unprocessable(
            "a feed's label must be at most 100 printable characters",
        ));
    }
    let secret = new_feed_secret()?;
    let id = domain::random_id("feed");
    let who = operator.did("feed.create", &id, serde_json::json!({ "label": label }));
    let feed = db::feeds::create(
        &app.db,
        &id,
        &operator.actor,
        &gpes_pki::hash_secret(&secret),
        label,
        app.now_ms(),
        &who,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateFeedResponse {
            feed,
            path: format!("/feeds/{secret}/timetable.ics"),
        }),
    ))
}

async fn list_feeds(
    State(app): State<Arc<App>>,
    operator: Operator,
) -> Result<Json<Vec<CalendarFeed>>, ApiError> {
    Ok(Json(db::feeds::list(&app.db, &operator.actor).await?))
}

async fn revoke_feed(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Vec<CalendarFeed>>, ApiError> {
    let who = operator.did("feed.revoke", &id, serde_json::Value::Null);
    db::feeds::revoke(&app.db, &operator.actor, &id, app.now_ms(), &who).await?;
    Ok(Json(db::feeds::list(&app.db, &operator.actor).await?))
}

/// The feed itself: the secret is the credential; an unknown or revoked
/// one is "not found", the same for both.
async fn feed(
    State(app): State<Arc<App>>,
    Path(secret): Path<String>,
    q: Result<Query<TimetableQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Some((user, grants)) = db::feeds::open(&app.db, &gpes_pki::hash_secret(&secret)).await?
    else {
        return Err(ApiError::not_found(
            "no such feed (it may have been revoked)",
        ));
    };
    let now = app.clock.now();
    let (from, until) = q.window(now, 26)?;
    let reach = Reach::of(&grants, Permission::ViewTimetable);
    let entries = entries(&app, &reach, from, until).await?;
    let body = ical(&entries, &format!("GPES timetable ({user})"), now);
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (http::header::CACHE_CONTROL, "private, max-age=900"),
        ],
        body,
    )
        .into_response())
}

/// Text escaped as RFC 5545 §3.3.11 says.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded at 75 octets (never inside a character),
/// ended by CRLF (RFC 5545 §3.1).
fn line(out: &mut String, text: &str) {
    let mut width = 0;
    for c in text.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The timetable as an iCalendar object: one event per run, at its
/// instant in UTC (so no time zone table is needed to read it right
/// across a clock change), half an hour long.
pub fn ical(entries: &[TimetableEntry], name: &str, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//GPES//Timetable//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    for e in entries {
        let start = crate::scheduler::from_ms(e.due_ms);
        line(&mut out, "BEGIN:VEVENT");
        line(
            &mut out,
            &format!("UID:{}-{}@gpes", e.collection_id, e.due_ms),
        );
        line(&mut out, &format!("DTSTAMP:{}", utc_stamp(now)));
        line(&mut out, &format!("DTSTART:{}", utc_stamp(start)));
        line(&mut out, "DURATION:PT30M");
        line(
            &mut out,
            &format!(
                "SUMMARY:{}",
                escape(&format!("Extraction: {}", e.collection_name))
            ),
        );
        let mut description = format!(
            "Collection {} runs (due {} London time); {} of {} practices take part.",
            e.collection_id, e.due_local, e.participating, e.practice_count
        );
        for p in &e.participation {
            description.push_str(&format!("\n{}: {}", p.practice, p.participation.as_str()));
        }
        line(&mut out, &format!("DESCRIPTION:{}", escape(&description)));
        line(&mut out, "TRANSP:TRANSPARENT");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_at_75_octets_and_text_is_escaped() {
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", "é".repeat(60)));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "é".repeat(60)));
        assert_eq!(escape("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
    }
}
