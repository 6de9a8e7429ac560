//! The workflow around a collection before it runs: requesting
//! organisations, a collection's terms and versioned edits, practices'
//! decisions and standing preferences (driven through gpesctl with each
//! practice user's own token), the run extracting exactly the
//! participants, the timetable and its calendar feed.

use crate::support::*;
use gpes_client::UplinkError;
use gpes_protocol::{
    Collection, CollectionVersion, DecisionRecord, JobStatus, Offer, ParticipationMode,
    ParticipationState, RunKind, TimetableEntry,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn refusal(e: UplinkError) -> (u16, String) {
    match e {
        UplinkError::Refused { status, message } => (status, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// An offered payment collection for region 15N (the seven test
/// practices), asked for by X26, due at 06:00 London time every day.
fn offered(name: &str) -> Value {
    json!({
        "name": name,
        "query": gpes_tests::registered_count_query(),
        "parameters": { "PPED": "2025-03-31" },
        "schedule": "0 6 * * *",
        "targeting": { "regions": ["15N"] },
        "purpose": "payment",
        "data_class": "aggregate",
        "terms": {
            "requested_by": "X26",
            "participation": "offered",
            "needs_declaration": true,
            "needs_approval": true,
        },
    })
}

async fn add_organisation(admin: &gpes_client::Uplink, code: &str) {
    let _: gpes_protocol::Organisation = admin
        .post(
            &format!("/v1/organisations/{code}"),
            &json!({ "name": format!("Organisation {code}"), "delivery": { "kind": "none" } }),
            TIMEOUT,
        )
        .await
        .expect("organisation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terms_are_checked_and_every_edit_is_a_version_runs_remember() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let token = coordinator.admin_token();

    // An organisation with a MESH delivery target, through gpesctl.
    coordinator
        .gpesctl(
            &token,
            &[
                "org",
                "set",
                "x26",
                "--name",
                "NHS England",
                "--mesh-mailbox",
                "x26ot001",
                "--mesh-workflow",
                "GPES_PAYMENT",
            ],
        )
        .await
        .expect("gpesctl org set");
    let org: gpes_protocol::Organisation = admin
        .get("/v1/organisations/X26", TIMEOUT)
        .await
        .expect("org");
    assert_eq!(
        org.delivery,
        gpes_protocol::DeliveryTarget::Mesh {
            mailbox: "X26OT001".into(),
            workflow_id: "GPES_PAYMENT".into()
        }
    );

    // Refused, with nothing changed: an unknown organisation; identifiable
    // data with no legal basis; a relative delivery folder; a collection
    // manager setting an organisation.
    let before = coordinator.snapshot().await;
    let mut bad = offered("unknown org");
    bad["terms"]["requested_by"] = json!("Y99");
    let (code, message) = refusal(
        admin
            .post::<_, Collection>("/v1/collections", &bad, TIMEOUT)
            .await
            .expect_err("unknown organisation"),
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("Y99"), "{message}");
    let mut bad = offered("identifiable");
    bad["data_class"] = json!("patient-identifiable");
    bad["query"] = json!(gpes_tests::example_query("dm_reg_patients.yaml"));
    let (code, message) = refusal(
        admin
            .post::<_, Collection>("/v1/collections", &bad, TIMEOUT)
            .await
            .expect_err("no legal basis"),
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("legal basis"), "{message}");
    let (code, message) = refusal(
        admin
            .post::<_, gpes_protocol::Organisation>(
                "/v1/organisations/X27",
                &json!({ "name": "x", "delivery": { "kind": "folder", "path": "relative/dir" } }),
                TIMEOUT,
            )
            .await
            .expect_err("relative folder"),
    );
    assert_eq!(code, 422, "{message}");
    assert_eq!(before, coordinator.snapshot().await);
    let (manager, manager_token) = coordinator
        .user("manager", &[("collection-manager", None)])
        .await;
    let after_user = coordinator.snapshot().await;
    let (code, _) = refusal(
        manager
            .post::<_, gpes_protocol::Organisation>(
                "/v1/organisations/X28",
                &json!({ "name": "x", "delivery": { "kind": "none" } }),
                TIMEOUT,
            )
            .await
            .expect_err("not an admin"),
    );
    assert_eq!(code, 403);
    assert_eq!(after_user, coordinator.snapshot().await);

    // Made by the manager through gpesctl, with its terms.
    coordinator
        .gpesctl(
            &manager_token,
            &[
                "collection",
                "create",
                "--name",
                "offered payment",
                "--query-ref",
                "missing:1",
                "--region",
                "15N",
                "--purpose",
                "payment",
                "--data-class",
                "aggregate",
            ],
        )
        .await
        .expect_err("an unknown library version is refused");
    let made: Collection = manager
        .post("/v1/collections", &offered("offered payment"), TIMEOUT)
        .await
        .expect("made");
    assert_eq!(made.version, 1);
    assert_eq!(made.terms.participation, ParticipationMode::Offered);
    assert_eq!(made.terms.requested_by.as_deref(), Some("X26"));

    // An active collection is not edited; paused, it is, as version 2.
    let mut edited = offered("offered payment, to March 2026");
    edited["parameters"] = json!({ "PPED": "2026-03-31" });
    let (code, message) = refusal(
        manager
            .put::<_, Collection>(&format!("/v1/collections/{}", made.id), &edited, TIMEOUT)
            .await
            .expect_err("active"),
    );
    assert_eq!(code, 409, "{message}");
    assert!(message.contains("pause it first"), "{message}");
    coordinator
        .gpesctl(&manager_token, &["collection", "pause", &made.id])
        .await
        .expect("pause");
    let v2: Collection = manager
        .put(&format!("/v1/collections/{}", made.id), &edited, TIMEOUT)
        .await
        .expect("edit while paused");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.parameters["PPED"], "2026-03-31");
    coordinator
        .gpesctl(&manager_token, &["collection", "versions", &made.id])
        .await
        .expect("gpesctl collection versions");
    coordinator
        .gpesctl(&manager_token, &["collection", "show", &made.id])
        .await
        .expect("gpesctl collection show");
    let versions: Vec<CollectionVersion> = manager
        .get(&format!("/v1/collections/{}/versions", made.id), TIMEOUT)
        .await
        .expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].collection.parameters["PPED"], "2025-03-31");
    assert_eq!(versions[1].made_by, "manager");

    // A run remembers the version, query version and kind it ran as.
    coordinator
        .gpesctl(&manager_token, &["collection", "activate", &made.id])
        .await
        .expect("activate");
    let run = coordinator.run_now(&made.id).await;
    assert_eq!(run.collection_version, 2);
    assert_eq!(run.query_ref.as_ref(), Some(&v2.query_ref));
    assert_eq!(run.kind, RunKind::Manual);
    assert_eq!(run.parameters["PPED"], "2026-03-31");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_extracts_exactly_the_practices_taking_part() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    add_organisation(&admin, "X26").await;
    let collection: Collection = admin
        .post("/v1/collections", &offered("offered"), TIMEOUT)
        .await
        .expect("offered");
    let mandatory: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "mandatory",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001"],
                "purpose": "planning",
                "data_class": "aggregate",
            }),
            TIMEOUT,
        )
        .await
        .expect("mandatory");

    // Each practice's people, with their own tokens.
    let mut tokens = std::collections::BTreeMap::new();
    for practice in gpes_tests::TEST_PRACTICES {
        let id = format!("staff-{}", practice.to_ascii_lowercase());
        let (_, token) = coordinator
            .user(
                &id,
                &[
                    ("B1845", Some(practice)),
                    ("B1844", Some(practice)),
                    ("B1843", Some(practice)),
                ],
            )
            .await;
        tokens.insert(practice, token);
    }
    let as_practice = |p: &str| tokens[p].clone();
    let decide = |practice: &'static str, verb: &'static str, reason: Option<&'static str>| {
        let token = as_practice(practice);
        let id = collection.id.clone();
        let coordinator = &coordinator;
        async move {
            let mut line = vec![
                "participation",
                "decide",
                id.as_str(),
                "--practice",
                practice,
                verb,
            ];
            if let Some(r) = reason {
                line.extend(["--reason", r]);
            }
            coordinator.gpesctl(&token, &line).await
        }
    };
    decide("A81001", "--accept", None).await.expect("A accepts");
    decide("B82002", "--decline", Some("no capacity this year"))
        .await
        .expect("B declines");
    decide("E85005", "--accept", None).await.expect("E accepts");
    decide("E85005", "--decline", Some("withdrawn"))
        .await
        .expect("E withdraws before the run");
    // C accepts every payment collection by preference; P81001 declines
    // anything, but accepts payment collections from X26 (the more
    // specific preference decides); P81002 prefers to accept, but
    // declined this one (a decision beats a preference). D never answers.
    let prefer = |practice: &'static str, extra: &'static [&'static str]| {
        let token = as_practice(practice);
        let coordinator = &coordinator;
        async move {
            let mut line = vec!["participation", "prefer", "--practice", practice];
            line.extend_from_slice(extra);
            coordinator.gpesctl(&token, &line).await
        }
    };
    prefer("C83003", &["--accept", "--purpose", "payment"])
        .await
        .expect("C's preference");
    prefer("P81001", &["--decline"])
        .await
        .expect("P81001 declines by default");
    prefer(
        "P81001",
        &["--accept", "--purpose", "payment", "--requested-by", "x26"],
    )
    .await
    .expect("P81001 accepts X26's payment collections");
    prefer("P81002", &["--accept"])
        .await
        .expect("P81002's preference");
    decide("P81002", "--decline", None)
        .await
        .expect("P81002 declines this one");
    // A preference made and removed changes nothing.
    prefer("D84004", &["--accept"]).await.expect("D prefers");
    let prefs: Vec<gpes_protocol::Preference> = admin
        .get("/v1/practices/D84004/preferences", TIMEOUT)
        .await
        .expect("D's preferences");
    assert_eq!(prefs.len(), 1);
    coordinator
        .gpesctl(
            &as_practice("D84004"),
            &[
                "participation",
                "unprefer",
                &prefs[0].id,
                "--practice",
                "D84004",
            ],
        )
        .await
        .expect("D removes it");
    for (p, line) in [
        (
            "A81001",
            vec!["participation", "offers", "--practice", "A81001"],
        ),
        (
            "C83003",
            vec!["participation", "preferences", "--practice", "C83003"],
        ),
        (
            "B82002",
            vec![
                "participation",
                "history",
                &collection.id,
                "--practice",
                "B82002",
            ],
        ),
        ("A81001", vec!["timetable", "--weeks", "1"]),
    ] {
        coordinator
            .gpesctl(&as_practice(p), &line)
            .await
            .unwrap_or_else(|e| panic!("gpesctl {line:?}: {e:#}"));
    }

    // What A81001's people see offered.
    let offers: Vec<Offer> = admin
        .get("/v1/offers?practice=A81001", TIMEOUT)
        .await
        .expect("offers");
    let ids: Vec<&str> = offers.iter().map(|o| o.collection_id.as_str()).collect();
    assert!(ids.contains(&collection.id.as_str()) && ids.contains(&mandatory.id.as_str()));
    let state_of = |id: &str| {
        offers
            .iter()
            .find(|o| o.collection_id == id)
            .map(|o| o.participation.clone())
    };
    assert_eq!(state_of(&collection.id), Some(ParticipationState::Accepted));
    assert_eq!(state_of(&mandatory.id), Some(ParticipationState::Mandatory));

    // Refused, each with nothing changed and the refusal logged: a
    // decision for a practice one holds no B1845 for, on a mandatory
    // collection, on a collection not targeting the practice; a
    // preference naming an unknown organisation.
    let narrow: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "offered to A only",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001"],
                "purpose": "research",
                "data_class": "aggregate",
                "terms": { "participation": "offered" },
            }),
            TIMEOUT,
        )
        .await
        .expect("narrow");
    let before = coordinator.snapshot().await;
    let refusals_before = coordinator.count("refusals").await;
    let err = decide_as(
        &coordinator,
        &as_practice("A81001"),
        &collection.id,
        "B82002",
    )
    .await;
    assert!(err.contains("may not"), "{err}");
    let err = decide_as(
        &coordinator,
        &as_practice("A81001"),
        &mandatory.id,
        "A81001",
    )
    .await;
    assert!(err.contains("mandatory"), "{err}");
    let err = decide_as(&coordinator, &as_practice("B82002"), &narrow.id, "B82002").await;
    assert!(err.contains("not offered"), "{err}");
    let err = coordinator
        .gpesctl(
            &as_practice("B82002"),
            &[
                "participation",
                "prefer",
                "--practice",
                "B82002",
                "--accept",
                "--requested-by",
                "Q99",
            ],
        )
        .await
        .expect_err("unknown organisation");
    assert!(format!("{err:#}").contains("Q99"), "{err:#}");
    let after = coordinator.snapshot().await;
    for (table, rows) in &after {
        assert_eq!(before.get(table), Some(rows), "{table} changed");
    }
    assert_eq!(coordinator.count("refusals").await, refusals_before + 4);

    // The timetable shows each practice's standing per upcoming run.
    let timetable: Vec<TimetableEntry> = admin
        .get("/v1/timetable?weeks=1", TIMEOUT)
        .await
        .expect("timetable");
    let entry = timetable
        .iter()
        .find(|e| e.collection_id == collection.id)
        .expect("the offered collection is due daily");
    assert_eq!(entry.practice_count, 7);
    assert_eq!(entry.participating, 3, "A, C and P81001");

    // The run: exactly A, C and P81001 are extracted; the rest are in it
    // as not participating, each with why.
    let run = coordinator.run_now(&collection.id).await;
    let results = run_results(&admin, &run.id).await.expect("results");
    let lines: Vec<(String, JobStatus, String)> = results
        .results
        .iter()
        .map(|r| {
            (
                r.practice.clone(),
                r.status,
                r.participation.clone().unwrap_or_default(),
            )
        })
        .collect();
    let expect = |p: &str, s: JobStatus, why: &str| (p.to_owned(), s, why.to_owned());
    assert_eq!(
        lines,
        vec![
            expect("A81001", JobStatus::Pending, "accepted"),
            expect("B82002", JobStatus::NotParticipating, "declined"),
            expect("C83003", JobStatus::Pending, "accepted-by-preference"),
            expect("D84004", JobStatus::NotParticipating, "no-answer"),
            expect("E85005", JobStatus::NotParticipating, "declined"),
            expect("P81001", JobStatus::Pending, "accepted-by-preference"),
            expect("P81002", JobStatus::NotParticipating, "declined"),
        ]
    );
    let summary: gpes_protocol::RunSummary = admin
        .get(&format!("/v1/runs/{}", run.id), TIMEOUT)
        .await
        .expect("summary");
    assert_eq!(summary.jobs.not_participating, 4);
    assert_eq!(summary.jobs.pending, 3);

    // A decision after the run fired counts from the next run: the
    // decline does not take back D's job (it has none), nor A's.
    decide("A81001", "--decline", None)
        .await
        .expect("A declines the next");
    let again = run_results(&admin, &run.id).await.expect("results");
    assert_eq!(again.results[0].status, JobStatus::Pending);
    let history: Vec<DecisionRecord> = admin
        .get(
            &format!(
                "/v1/collections/{}/decisions?practice=E85005",
                collection.id
            ),
            TIMEOUT,
        )
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "a withdrawal keeps the acceptance");
    assert_eq!(history[1].reason.as_deref(), Some("withdrawn"));
}

/// A decision through gpesctl that must be refused: its message.
async fn decide_as(
    coordinator: &Coordinator,
    token: &str,
    collection: &str,
    practice: &str,
) -> String {
    let err = coordinator
        .gpesctl(
            token,
            &[
                "participation",
                "decide",
                collection,
                "--practice",
                practice,
                "--accept",
            ],
        )
        .await
        .expect_err("refused");
    format!("{err:#}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_feed_reads_right_across_the_october_clock_change() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    add_organisation(&admin, "X26").await;
    let collection: Collection = admin
        .post("/v1/collections", &offered("daily at six"), TIMEOUT)
        .await
        .expect("offered");
    let (staff, token) = coordinator
        .user(
            "staff-a",
            &[("B1845", Some("A81001")), ("B1843", Some("A81001"))],
        )
        .await;
    let _: DecisionRecord = staff
        .post(
            &format!("/v1/collections/{}/decisions", collection.id),
            &json!({ "practice": "A81001", "decision": "accept" }),
            TIMEOUT,
        )
        .await
        .expect("accept");
    coordinator
        .gpesctl(&token, &["feed", "create", "--label", "practice calendar"])
        .await
        .expect("gpesctl feed create");
    let made: gpes_protocol::CreateFeedResponse = staff
        .post("/v1/me/feeds", &json!({ "label": "for the test" }), TIMEOUT)
        .await
        .expect("feed");
    assert!(made.path.starts_with("/feeds/gpes-feed-"));
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &coordinator.running.ca_pem).expect("ca");
    let url = format!(
        "https://{}{}?from=2027-10-29&weeks=1",
        coordinator.running.operator_addr, made.path
    );

    // Python's icalendar, an independent parser, reads the feed.
    let events = read_feed(&url, &ca);
    let starts: Vec<&str> = events
        .iter()
        .map(|e| e["start"].as_str().expect("start"))
        .take(4)
        .collect();
    // 06:00 in London: BST (UTC+1) until 02:00 on Sunday 31 October 2027,
    // GMT after.
    assert_eq!(
        starts,
        [
            "2027-10-29T05:00:00+00:00",
            "2027-10-30T05:00:00+00:00",
            "2027-10-31T06:00:00+00:00",
            "2027-11-01T06:00:00+00:00",
        ]
    );
    assert_eq!(events.len(), 7, "one a day for a week");
    let first = &events[0];
    assert_eq!(first["summary"], "Extraction: daily at six");
    assert!(
        first["description"]
            .as_str()
            .expect("description")
            .contains("A81001: accepted"),
        "{first}"
    );
    assert!(
        !first["description"]
            .as_str()
            .expect("description")
            .contains("B82002"),
        "a practice's feed names only its practices: {first}"
    );

    // Revoked, its address answers nothing; the secret is never logged.
    coordinator
        .gpesctl(&token, &["feed", "revoke", &made.feed.id])
        .await
        .expect("revoke");
    let out = fetch(&url, &ca);
    assert!(out.contains("HTTP Error 404"), "{out}");
    let feeds: Vec<gpes_protocol::CalendarFeed> =
        staff.get("/v1/me/feeds", TIMEOUT).await.expect("feeds");
    assert_eq!(feeds.len(), 2);
    assert!(feeds.iter().any(|f| f.revoked_ms.is_some()));
    let secret = made.path.split('/').nth(2).expect("secret");
    let logged: Vec<(String,)> = sqlx::query_as("SELECT route FROM refusals")
        .fetch_all(coordinator.running.db.pool())
        .await
        .expect("refusals");
    assert!(!logged.is_empty());
    assert!(logged.iter().all(|(r,)| !r.contains(secret)), "{logged:?}");
}

const PYTHON_SETUP: &str =
    "Python's icalendar is missing: run scripts/setup.sh (pip install icalendar==7.3.2)";

/// The feed's events as Python's icalendar reads them: start (UTC,
/// ISO 8601), summary, description.
fn read_feed(url: &str, ca: &std::path::Path) -> Vec<Value> {
    let script = r#"
import json, ssl, sys, urllib.request, datetime
try:
    import icalendar
except ImportError:
    sys.exit("MISSING")
ctx = ssl.create_default_context(cafile=sys.argv[2])
body = urllib.request.urlopen(sys.argv[1], context=ctx).read()
cal = icalendar.Calendar.from_ical(body)
out = []
for ev in cal.walk("VEVENT"):
    start = ev.decoded("DTSTART")
    out.append({
        "start": start.astimezone(datetime.timezone.utc).isoformat(),
        "summary": str(ev.get("SUMMARY")),
        "description": str(ev.get("DESCRIPTION")),
        "uid": str(ev.get("UID")),
    })
out.sort(key=lambda e: e["start"])
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, url, ca.to_str().expect("path")])
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("MISSING"), "{PYTHON_SETUP}");
    assert!(out.status.success(), "reading the feed failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

/// What fetching the address gives (its error, when it fails).
fn fetch(url: &str, ca: &std::path::Path) -> String {
    let script = r#"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    print(urllib.request.urlopen(sys.argv[1], context=ctx).read().decode())
except Exception as e:
    print(e)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, url, ca.to_str().expect("path")])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_stay_apart_practices_run_their_own_and_attention_lists_what_waits() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let admin_token = coordinator.admin_token();
    add_organisation(&admin, "X26").await;
    coordinator
        .gpesctl(
            &admin_token,
            &["practice", "set", "P81002", "--test", "true"],
        )
        .await
        .expect("flag a test practice");
    let (_, manager) = coordinator
        .user("manager", &[("collection-manager", None)])
        .await;
    let mut draft = offered("tried first");
    draft["draft"] = json!(true);
    let collection: Collection = admin
        .post("/v1/collections", &draft, TIMEOUT)
        .await
        .expect("draft");

    // A dry run of the draft reaches the test practice only.
    let before_runs = coordinator.count("runs").await;
    coordinator
        .gpesctl(&manager, &["collection", "dry-run", &collection.id])
        .await
        .expect("gpesctl collection dry-run");
    assert_eq!(coordinator.count("runs").await, before_runs + 1);
    let runs: gpes_protocol::Page<gpes_protocol::RunSummary> = admin
        .get(&format!("/v1/runs?collection={}", collection.id), TIMEOUT)
        .await
        .expect("runs");
    let dry = &runs.items[0].run;
    assert_eq!(dry.kind, RunKind::DryRun);
    let results = run_results(&admin, &dry.id).await.expect("results");
    let practices: Vec<(&str, Option<&str>)> = results
        .results
        .iter()
        .map(|r| (r.practice.as_str(), r.participation.as_deref()))
        .collect();
    assert_eq!(practices, [("P81002", Some("dry-run"))]);
    let err = coordinator
        .gpesctl(
            &manager,
            &[
                "collection",
                "dry-run",
                &collection.id,
                "--practice",
                "A81001",
            ],
        )
        .await
        .expect_err("not a test practice");
    assert!(
        format!("{err:#}").contains("not an active test practice"),
        "{err:#}"
    );
    // Never exported; deleted only once nothing waits.
    let (code, message) = refusal(
        admin
            .get::<Value>(&format!("/v1/runs/{}/export?format=json", dry.id), TIMEOUT)
            .await
            .expect_err("a dry run is not exported"),
    );
    assert_eq!(code, 409, "{message}");
    let err = coordinator
        .gpesctl(&manager, &["run", "delete", &dry.id])
        .await
        .expect_err("a job still waits");
    assert!(format!("{err:#}").contains("cancel it first"), "{err:#}");
    coordinator
        .gpesctl(&manager, &["run", "cancel", &dry.id])
        .await
        .expect("cancel");
    coordinator
        .gpesctl(&manager, &["run", "delete", &dry.id])
        .await
        .expect("delete");
    assert_eq!(coordinator.count("runs").await, before_runs);
    let (code, _) = refusal(
        admin
            .get::<gpes_protocol::RunSummary>(&format!("/v1/runs/{}", dry.id), TIMEOUT)
            .await
            .expect_err("gone"),
    );
    assert_eq!(code, 404);

    // Live: a national run never deleted; no dry run on the timetable.
    coordinator
        .gpesctl(&manager, &["collection", "activate", &collection.id])
        .await
        .expect("activate");
    let _: DecisionRecord = admin
        .post(
            &format!("/v1/collections/{}/decisions", collection.id),
            &json!({ "practice": "A81001", "decision": "accept" }),
            TIMEOUT,
        )
        .await
        .expect("A81001 takes part");
    let national = coordinator.run_now(&collection.id).await;
    let err = coordinator
        .gpesctl(&manager, &["run", "delete", &national.id])
        .await
        .expect_err("only dry runs are deleted");
    assert!(format!("{err:#}").contains("only dry runs"), "{err:#}");
    let timetable: Vec<TimetableEntry> = admin
        .get("/v1/timetable?weeks=1", TIMEOUT)
        .await
        .expect("timetable");
    assert_eq!(timetable.len(), 7, "daily, the schedule's runs only");
    assert!(
        timetable.iter().all(|e| e.practice_count == 6),
        "P81002 is a test practice"
    );

    // A practice's own extraction: its B1842 user, for its practice only.
    let (_, staff) = coordinator
        .user(
            "staff-a",
            &[("B1842", Some("A81001")), ("B1843", Some("A81001"))],
        )
        .await;
    coordinator
        .gpesctl(
            &staff,
            &[
                "collection",
                "adhoc",
                &collection.id,
                "--practice",
                "A81001",
            ],
        )
        .await
        .expect("gpesctl collection adhoc");
    let runs: gpes_protocol::Page<gpes_protocol::RunSummary> = admin
        .get(&format!("/v1/runs?collection={}", collection.id), TIMEOUT)
        .await
        .expect("runs");
    let own = runs
        .items
        .iter()
        .find(|s| s.run.kind == RunKind::Adhoc)
        .expect("the ad-hoc run");
    assert_eq!(own.jobs.total(), 1);
    let err = coordinator
        .gpesctl(
            &staff,
            &[
                "collection",
                "adhoc",
                &collection.id,
                "--practice",
                "B82002",
            ],
        )
        .await
        .expect_err("another practice");
    assert!(format!("{err:#}").contains("may not"), "{err:#}");

    // An agent's failure and the practices that have not decided are
    // what needs attention; A81001's people see A81001's lines only.
    let dir = tempfile::tempdir().expect("dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let agent = agent_uplink(&coordinator, &data_dir);
    let polled: gpes_protocol::PollResponse = agent
        .post(
            "/v1/jobs/poll",
            &gpes_protocol::PollRequest {
                practices: vec!["A81001".into()],
                wait_ms: 0,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    for job in &polled.jobs {
        let _: Value = agent
            .post(
                "/v1/failures",
                &gpes_protocol::FailureReport {
                    job_id: job.job_id.clone(),
                    reason: "the practice's export folder is empty".into(),
                    retryable: false,
                },
                TIMEOUT,
            )
            .await
            .expect("report a failure");
    }
    coordinator
        .gpesctl(&admin_token, &["attention"])
        .await
        .expect("gpesctl attention");
    let items: Vec<gpes_protocol::AttentionItem> = admin
        .get("/v1/attention", TIMEOUT)
        .await
        .expect("attention");
    let undecided: BTreeSet<&str> = items
        .iter()
        .filter(|i| i.kind == gpes_protocol::AttentionKind::NoDecision)
        .filter_map(|i| i.practice.as_deref())
        .collect();
    assert_eq!(
        undecided,
        BTreeSet::from(["B82002", "C83003", "D84004", "E85005", "P81001"])
    );
    let failing: Vec<&gpes_protocol::AttentionItem> = items
        .iter()
        .filter(|i| i.kind == gpes_protocol::AttentionKind::FailingJob)
        .collect();
    assert_eq!(
        failing.len(),
        1,
        "the national run's, not the ad-hoc one's: {items:?}"
    );
    assert_eq!(failing[0].run_id.as_deref(), Some(national.id.as_str()));
    assert!(failing[0].detail.contains("export folder is empty"));
    let (viewer, _) = coordinator
        .user("staff-a-viewer", &[("B1843", Some("A81001"))])
        .await;
    let theirs: Vec<gpes_protocol::AttentionItem> =
        viewer.get("/v1/attention", TIMEOUT).await.expect("theirs");
    assert!(!theirs.is_empty());
    assert!(
        theirs
            .iter()
            .all(|i| i.practice.as_deref() == Some("A81001")),
        "{theirs:?}"
    );
}
