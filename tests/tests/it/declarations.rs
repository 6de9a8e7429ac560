//! Declaration and approval of payment results: a practice's declarer
//! declares its exact result, the commissioner of its region approves or
//! rejects it with a reason, a rejected practice declares again, and a
//! recalculation that changes a result re-opens the declaration; every
//! step through gpesctl with each person's own token, every refusal
//! changing nothing.

use crate::support::*;
use gpes_protocol::{
    Collection, Declaration, DeclarationState, PollRequest, PollResponse, Receipt,
};
use serde_json::json;

async fn upload_all(agent: &gpes_client::Uplink, practices: &[&str], registered: u64) {
    let polled: PollResponse = agent
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                practices: practices.iter().map(|p| p.to_string()).collect(),
                wait_ms: 0,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    assert_eq!(polled.jobs.len(), practices.len());
    for job in &polled.jobs {
        let _: Receipt = agent
            .post("/v1/results", &upload_for(job, registered), TIMEOUT)
            .await
            .expect("upload");
    }
}

async fn hash_of(admin: &gpes_client::Uplink, run: &str, practice: &str) -> String {
    let results = run_results(admin, run).await.expect("results");
    results
        .results
        .iter()
        .find(|r| r.practice == practice)
        .and_then(|r| r.extract_hash)
        .expect("a stored result")
        .to_string()
}

async fn declarations(admin: &gpes_client::Uplink, practice: &str) -> Vec<Declaration> {
    admin
        .get(&format!("/v1/declarations?practice={practice}"), TIMEOUT)
        .await
        .expect("declarations")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_results_are_approved_rejected_declared_again_and_reopened_by_a_recalculation() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    // A practice in another region, for the other region's commissioner.
    let _: gpes_protocol::PracticeImportResponse = admin
        .post(
            "/v1/practices/import",
            &json!({ "practices": [{
                "code": "Z99001", "name": "Elsewhere", "region": "Q99", "status": "active",
                "open_date": "2000-01-01", "close_date": null
            }], "successors": [] }),
            TIMEOUT,
        )
        .await
        .expect("import");
    let collection: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "payment, declared and approved",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001", "B82002"],
                "purpose": "payment",
                "data_class": "aggregate",
                "terms": {
                    "needs_declaration": true,
                    "needs_approval": true,
                    "payment": {
                        "pence_per_point": 22549,
                        "national_list_size": 9600,
                        "list_size_population": "REGISTERED",
                        "indicators": [{
                            "indicator": "REG",
                            "numerator": "REGISTERED",
                            "denominator": "REGISTERED",
                            "points": 10,
                            "lower_threshold": 40,
                            "upper_threshold": 90,
                        }],
                    },
                },
            }),
            TIMEOUT,
        )
        .await
        .expect("collection");
    let (_, declarer_a) = coordinator
        .user("declarer-a", &[("declarer", Some("A81001"))])
        .await;
    let (_, declarer_b) = coordinator
        .user("declarer-b", &[("declarer", Some("B82002"))])
        .await;
    let (_, commissioner) = coordinator
        .user("commissioner-15n", &[("commissioner", Some("15N"))])
        .await;
    let (_, elsewhere) = coordinator
        .user("commissioner-q99", &[("commissioner", Some("Q99"))])
        .await;

    let dir = tempfile::tempdir().expect("dir");
    let token = coordinator.token(&["A81001", "B82002"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let first = coordinator.run_now(&collection.id).await;
    upload_all(&agent, &["A81001", "B82002"], 100).await;
    let a1 = hash_of(&admin, &first.id, "A81001").await;
    let b1 = hash_of(&admin, &first.id, "B82002").await;

    // A practice's own view: each population explained, and where the
    // numbers came from; another practice's is refused.
    let (_, viewer_a) = coordinator
        .user("viewer-a", &[("B1843", Some("A81001"))])
        .await;
    let view: gpes_protocol::PracticeView = coordinator
        .user_uplink(&viewer_a)
        .get(
            &format!("/v1/runs/{}/view?practice=A81001", first.id),
            TIMEOUT,
        )
        .await
        .expect("A's view");
    assert_eq!(view.populations.len(), 1);
    assert_eq!(view.populations[0].count, Some(100));
    assert!(
        view.populations[0]
            .explanation
            .contains("REGISTERED starts from"),
        "{}",
        view.populations[0].explanation
    );
    let provenance = view.provenance.expect("a result");
    assert_eq!(provenance.extract_hash.to_string(), a1);
    assert_eq!(provenance.plugin_name, "csv-export");
    assert_eq!(provenance.parameters["PPED"], "2025-03-31");
    assert!(!provenance.inputs.is_empty());
    coordinator
        .gpesctl(
            &viewer_a,
            &["run", "view", &first.id, "--practice", "A81001"],
        )
        .await
        .expect("gpesctl run view");
    let err = coordinator
        .gpesctl(
            &viewer_a,
            &["run", "view", &first.id, "--practice", "B82002"],
        )
        .await
        .expect_err("another practice's");
    assert!(format!("{err:#}").contains("A81001"), "{err:#}");

    let declare = |token: &str, run: &str, practice: &str, hash: &str| {
        let (token, run, practice, hash) = (
            token.to_owned(),
            run.to_owned(),
            practice.to_owned(),
            hash.to_owned(),
        );
        let coordinator = &coordinator;
        async move {
            coordinator
                .gpesctl(
                    &token,
                    &[
                        "declaration",
                        "declare",
                        &run,
                        "--practice",
                        &practice,
                        "--extract-hash",
                        &hash,
                    ],
                )
                .await
        }
    };
    declare(&declarer_a, &first.id, "A81001", &a1)
        .await
        .expect("A declares");
    declare(&declarer_b, &first.id, "B82002", &b1)
        .await
        .expect("B declares");

    // Refused, with nothing changed: declaring another practice's result,
    // declaring again what is declared, a commissioner of another region
    // deciding, a rejection without a reason.
    let before = coordinator.snapshot().await;
    let err = declare(&declarer_a, &first.id, "B82002", &b1)
        .await
        .expect_err("not theirs");
    assert!(format!("{err:#}").contains("may not"), "{err:#}");
    let err = declare(&declarer_a, &first.id, "A81001", &a1)
        .await
        .expect_err("already declared");
    assert!(format!("{err:#}").contains("already declared"), "{err:#}");
    let a_declaration = declarations(&admin, "A81001").await[0].clone();
    assert_eq!(a_declaration.state, DeclarationState::Declared);
    let err = coordinator
        .gpesctl(&elsewhere, &["declaration", "approve", &a_declaration.id])
        .await
        .expect_err("another region");
    assert!(format!("{err:#}").contains("may not"), "{err:#}");
    let err = coordinator
        .gpesctl(
            &commissioner,
            &["declaration", "reject", &a_declaration.id, "--reason", " "],
        )
        .await
        .expect_err("no reason");
    assert!(format!("{err:#}").contains("reason"), "{err:#}");
    assert_eq!(before, coordinator.snapshot().await);

    // The commissioner approves A and rejects B, which declares again and
    // is approved.
    coordinator
        .gpesctl(
            &commissioner,
            &["declaration", "list", "--state", "declared"],
        )
        .await
        .expect("what waits");
    coordinator
        .gpesctl(
            &commissioner,
            &["declaration", "approve", &a_declaration.id],
        )
        .await
        .expect("approve A");
    let b_declaration = declarations(&admin, "B82002").await[0].clone();
    coordinator
        .gpesctl(
            &commissioner,
            &[
                "declaration",
                "reject",
                &b_declaration.id,
                "--reason",
                "list size does not match our records",
            ],
        )
        .await
        .expect("reject B");
    let rejected = declarations(&admin, "B82002").await[0].clone();
    assert_eq!(rejected.state, DeclarationState::Rejected);
    assert_eq!(
        rejected.reason.as_deref(),
        Some("list size does not match our records")
    );
    assert_eq!(rejected.decided_by.as_deref(), Some("commissioner-15n"));
    let err = coordinator
        .gpesctl(
            &commissioner,
            &["declaration", "approve", &b_declaration.id],
        )
        .await
        .expect_err("a rejected declaration waits for nothing");
    assert!(format!("{err:#}").contains("rejected"), "{err:#}");
    declare(&declarer_b, &first.id, "B82002", &b1)
        .await
        .expect("B declares again");
    let again = declarations(&admin, "B82002").await[0].clone();
    assert_eq!(again.state, DeclarationState::Declared);
    // Left waiting past declaration_attention_hours (120 by default: the
    // practice's declarations are moved six days back, as if made then),
    // it needs attention; the commissioner sees it in their list.
    sqlx::query("UPDATE declarations SET declared_ms = declared_ms - $2 WHERE practice = $1")
        .bind("B82002")
        .bind(6i64 * 24 * 3600 * 1000)
        .execute(coordinator.running.db.pool())
        .await
        .expect("age the declaration");
    let waiting: Vec<gpes_protocol::AttentionItem> = coordinator
        .user_uplink(&commissioner)
        .get("/v1/attention", TIMEOUT)
        .await
        .expect("attention");
    assert!(
        waiting.iter().any(
            |i| i.kind == gpes_protocol::AttentionKind::DeclarationWaiting
                && i.practice.as_deref() == Some("B82002")
        ),
        "{waiting:?}"
    );
    coordinator
        .gpesctl(&commissioner, &["declaration", "approve", &again.id])
        .await
        .expect("approve B");

    // A's files change; a re-run for the same period gives a new result,
    // which re-opens A's approved declaration (B's, unchanged, stays).
    let second = coordinator.run_now(&collection.id).await;
    assert_ne!(second.id, first.id);
    let polled: PollResponse = agent
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                practices: vec!["A81001".into(), "B82002".into()],
                wait_ms: 0,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    for job in &polled.jobs {
        let registered = if job.practice == "A81001" { 120 } else { 100 };
        let _: Receipt = agent
            .post("/v1/results", &upload_for(job, registered), TIMEOUT)
            .await
            .expect("upload");
    }
    let a2 = hash_of(&admin, &second.id, "A81001").await;
    assert_ne!(a1, a2);
    let reopened = declarations(&admin, "A81001").await[0].clone();
    assert_eq!(reopened.state, DeclarationState::Reopened);
    assert!(
        reopened
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("recalculation") && r.contains(&second.id)),
        "{reopened:?}"
    );
    assert_eq!(
        declarations(&admin, "B82002").await[0].state,
        DeclarationState::Approved
    );
    // The old result is not the latest: refused; the new one is declared.
    let err = declare(&declarer_a, &first.id, "A81001", &a1)
        .await
        .expect_err("not the latest");
    assert!(
        format!("{err:#}").contains("not the practice's latest"),
        "{err:#}"
    );
    declare(&declarer_a, &second.id, "A81001", &a2)
        .await
        .expect("A declares the new result");

    // Payments: B's approved result is paid; A waits for its approval,
    // then is paid on its new result. 10 points x 22549p x list/9600.
    let payments: gpes_protocol::Payments = admin
        .get(&format!("/v1/runs/{}/payments", second.id), TIMEOUT)
        .await
        .expect("payments");
    assert_eq!(payments.waiting, ["A81001"]);
    assert_eq!(payments.lines.len(), 1);
    assert_eq!(
        payments.lines[0].pence, 2349,
        "{}",
        payments.lines[0].working
    );
    let a_new = declarations(&admin, "A81001").await[0].clone();
    coordinator
        .gpesctl(&commissioner, &["declaration", "approve", &a_new.id])
        .await
        .expect("approve A's new result");
    coordinator
        .gpesctl(&declarer_a, &["run", "payments", &second.id])
        .await
        .expect("gpesctl run payments");
    let payments: gpes_protocol::Payments = admin
        .get(&format!("/v1/runs/{}/payments", second.id), TIMEOUT)
        .await
        .expect("payments");
    assert!(payments.waiting.is_empty());
    let pence: Vec<(&str, u64)> = payments
        .lines
        .iter()
        .map(|l| (l.practice.as_str(), l.pence))
        .collect();
    assert_eq!(pence, [("A81001", 2819), ("B82002", 2349)]);
    assert_eq!(payments.total_pence, 2819 + 2349);
    let theirs: gpes_protocol::Payments = coordinator
        .user_uplink(&viewer_a)
        .get(&format!("/v1/runs/{}/payments", second.id), TIMEOUT)
        .await
        .expect("A's own payments");
    assert_eq!(theirs.lines.len(), 1);
    assert_eq!(theirs.lines[0].practice, "A81001");

    // Every step is on the audit trail, and the trail verifies.
    let audit: gpes_protocol::Page<gpes_protocol::AuditEntry> = admin
        .get("/v1/audit?limit=1000", TIMEOUT)
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "declaration.declare",
        "declaration.approve",
        "declaration.reject",
        "declaration.reopen",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    let verified: gpes_protocol::AuditVerification = admin
        .get("/v1/audit/verify", TIMEOUT)
        .await
        .expect("verify");
    assert!(verified.ok, "{verified:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_entered_by_hand_are_checked_kept_in_versions_and_declared() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let collection: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "DM020 by hand",
                "query": gpes_tests::example_query("dm020.yaml"),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001", "D84004"],
                "purpose": "payment",
                "data_class": "aggregate",
                "terms": { "method": "manual", "needs_declaration": true },
            }),
            TIMEOUT,
        )
        .await
        .expect("collection");
    let (_, declarer) = coordinator
        .user("declarer-d", &[("declarer", Some("D84004"))])
        .await;
    let run = coordinator.run_now(&collection.id).await;
    let enter = |counts: &'static [&'static str]| {
        let token = declarer.clone();
        let run = run.id.clone();
        let coordinator = &coordinator;
        async move {
            let mut line = vec!["manual", "enter", run.as_str(), "--practice", "D84004"];
            for c in counts {
                line.extend(["--count", c]);
            }
            coordinator.gpesctl(&token, &line).await
        }
    };

    // Refused, with nothing changed: a numerator above its denominator, a
    // population missing, one the query does not give.
    let before = coordinator.snapshot().await;
    let err = enter(&["DM_REG=50", "DM020_DEN=40", "DM020_NUM=45"])
        .await
        .expect_err("larger than what it is drawn from");
    assert!(
        format!("{err:#}").contains("drawn from 'DM020_DEN'"),
        "{err:#}"
    );
    let err = enter(&["DM_REG=50", "DM020_DEN=40"])
        .await
        .expect_err("a population missing");
    assert!(format!("{err:#}").contains("DM020_NUM"), "{err:#}");
    let err = enter(&["DM_REG=50", "DM020_DEN=40", "DM020_NUM=30", "AST_REG=3"])
        .await
        .expect_err("not the query's");
    assert!(format!("{err:#}").contains("AST_REG"), "{err:#}");
    assert_eq!(before, coordinator.snapshot().await);

    // Entered, declared (no approval needed: approved by `automatic`).
    enter(&["DM_REG=50", "DM020_DEN=40", "DM020_NUM=30"])
        .await
        .expect("entered");
    let results = run_results(&admin, &run.id).await.expect("results");
    let d = results
        .results
        .iter()
        .find(|r| r.practice == "D84004")
        .expect("D's line");
    assert_eq!(d.status, gpes_protocol::JobStatus::Manual);
    let first = d.extract_hash.expect("a result");
    assert_eq!(
        d.result.as_ref().and_then(|a| a.count("DM020_NUM")),
        Some(30)
    );
    coordinator
        .gpesctl(
            &declarer,
            &[
                "declaration",
                "declare",
                &run.id,
                "--practice",
                "D84004",
                "--extract-hash",
                &first.to_string(),
            ],
        )
        .await
        .expect("declare");
    let declared = declarations(&admin, "D84004").await[0].clone();
    assert_eq!(declared.state, DeclarationState::Approved);
    assert_eq!(declared.decided_by.as_deref(), Some("automatic"));

    // A correction is the next version; the history keeps both, and the
    // declaration of the first re-opens.
    enter(&["DM_REG=50", "DM020_DEN=40", "DM020_NUM=31"])
        .await
        .expect("corrected");
    let history: Vec<gpes_protocol::ManualEntry> = admin
        .get(
            &format!("/v1/runs/{}/manual?practice=D84004", run.id),
            TIMEOUT,
        )
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].extract_hash, first);
    assert_eq!(history[1].version, 2);
    assert_eq!(history[1].entered_by, "declarer-d");
    coordinator
        .gpesctl(
            &declarer,
            &["manual", "history", &run.id, "--practice", "D84004"],
        )
        .await
        .expect("gpesctl manual history");
    assert_eq!(
        declarations(&admin, "D84004").await[0].state,
        DeclarationState::Reopened
    );

    // A collection its agents extract takes no values by hand from a
    // practice an agent serves.
    let extracted: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "extracted",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001"],
                "purpose": "payment",
                "data_class": "aggregate",
            }),
            TIMEOUT,
        )
        .await
        .expect("collection");
    let dir = tempfile::tempdir().expect("dir");
    let token = coordinator.token(&["A81001"], 600).await;
    enroll_only(dir.path(), &token.token).await;
    let run = coordinator.run_now(&extracted.id).await;
    let err = admin
        .post::<_, gpes_protocol::ManualEntry>(
            &format!("/v1/runs/{}/manual", run.id),
            &json!({ "practice": "A81001", "populations": [{ "population": "REGISTERED", "count": 5, "cells": [] }] }),
            TIMEOUT,
        )
        .await
        .expect_err("an agent serves A81001");
    assert!(err.to_string().contains("has an agent"), "{err}");
}
