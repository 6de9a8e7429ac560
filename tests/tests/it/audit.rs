//! The audit trail: every person's action, stored result and read of
//! results is on it, and `verify` catches an altered, a deleted and an
//! inserted entry, the newest entries removed, and the chain rewritten
//! from an entry on.

use crate::support::*;
use gpes_coordinator::db::audit::{self, AuditKey};
use gpes_protocol::{
    AuditEntry, AuditVerification, Page, PollRequest, PollResponse, Receipt, RevokeResponse,
};
use std::time::Duration;

/// A coordinator whose trail holds the test registry's import, a token, an enrollment, a collection,
/// a run made by hand, a stored result, a read of results and a
/// revocation; its checkpoint has caught up with the newest entry.
async fn audited() -> (Coordinator, Vec<AuditEntry>) {
    let coordinator = Coordinator::start_with(|c| c.audit_checkpoint_seconds = 1).await;
    let operator = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let polled: PollResponse = agent
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                wait_ms: 2_000,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    let _: Receipt = agent
        .post("/v1/results", &upload_for(&polled.jobs[0], 5), TIMEOUT)
        .await
        .expect("stored");
    run_results(&operator, &run.id).await.expect("read");
    let _: RevokeResponse = operator
        .post(
            &format!("/v1/agents/{}/revoke", token.agent_id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("revoke");

    let page: Page<AuditEntry> = operator.get("/v1/audit", TIMEOUT).await.expect("audit");
    let newest = page.items[0].seq;
    let path = coordinator
        .running
        .admin_token_path
        .with_file_name(audit::CHECKPOINT_FILE);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while audit::read_checkpoint(&path)
        .expect("checkpoint")
        .is_none_or(|c| c.seq != newest)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint of entry {newest}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut entries = page.items;
    entries.reverse();
    (coordinator, entries)
}

async fn verify(coordinator: &Coordinator) -> AuditVerification {
    coordinator
        .operator()
        .get("/v1/audit/verify", TIMEOUT)
        .await
        .expect("verify")
}

async fn sql(coordinator: &Coordinator, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(coordinator.running.db.pool())
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn problems(v: &AuditVerification) -> String {
    v.problems.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_stored_result_and_read_is_on_the_trail_and_it_verifies() {
    let (coordinator, entries) = audited().await;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    let agent = entries[2].target.clone();
    assert_eq!(
        actions,
        [
            ("practices.import", "admin"),
            ("token.create", "admin"),
            ("agent.enroll", format!("token:{agent}").as_str()),
            ("collection.create", "admin"),
            ("run.now", "admin"),
            ("result.store", format!("agent:{agent}").as_str()),
            ("results.read", "admin"),
            ("agent.revoke", "admin"),
        ]
    );
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert_eq!(e.mac.len(), 64);
    }
    assert_eq!(entries[0].grant, "admin");
    assert!(
        entries[5].detail.contains("extract_hash"),
        "{}",
        entries[5].detail
    );
    let v = verify(&coordinator).await;
    assert!(v.ok, "{}", problems(&v));
    assert_eq!((v.entries, v.last_seq, v.checkpoint_seq), (8, 8, Some(8)));

    // A refused action adds nothing.
    let before = coordinator.snapshot().await;
    let err = coordinator
        .operator()
        .post::<_, RevokeResponse>(&format!("/v1/agents/{agent}/revoke"), &(), TIMEOUT)
        .await
        .expect_err("already revoked");
    assert!(err.to_string().contains("409"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_entry_is_caught() {
    let (coordinator, _) = audited().await;
    sql(
        &coordinator,
        "UPDATE audit SET detail = '{\"jobs_released\":1}' WHERE seq = 8",
    )
    .await;
    let v = verify(&coordinator).await;
    assert!(!v.ok);
    assert!(
        problems(&v).contains("entry 8 (agent.revoke"),
        "{}",
        problems(&v)
    );
    sql(
        &coordinator,
        "UPDATE audit SET actor = 'someone else' WHERE seq = 4",
    )
    .await;
    assert!(problems(&verify(&coordinator).await).contains("entry 4 (collection.create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_entry_is_caught() {
    let (coordinator, _) = audited().await;
    sql(&coordinator, "DELETE FROM audit WHERE seq = 7").await;
    let v = verify(&coordinator).await;
    assert!(!v.ok);
    let text = problems(&v);
    assert!(text.contains("entries 7 to 7 are missing"), "{text}");
    assert!(
        text.contains("entry 8"),
        "the next entry's chain breaks too: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inserted_entry_is_caught() {
    let (coordinator, entries) = audited().await;
    let last = entries.last().expect("entries");
    // Made to look like the others, with a mac of the right shape; the
    // head is moved to it.
    let forged_mac = "ab".repeat(32);
    sql(
        &coordinator,
        &format!(
            "INSERT INTO audit (seq, at_ms, actor, grant_name, action, target, detail, mac) \
             VALUES (9, {}, 'admin', 'admin', 'run.cancel', 'x', 'null', '{forged_mac}')",
            last.at_ms + 1
        ),
    )
    .await;
    sql(
        &coordinator,
        &format!("UPDATE audit_head SET seq = 9, mac = '{forged_mac}'"),
    )
    .await;
    let v = verify(&coordinator).await;
    assert!(!v.ok);
    assert!(
        problems(&v).contains("entry 9 (run.cancel"),
        "{}",
        problems(&v)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_newest_entries_is_caught_by_the_checkpoint() {
    let (coordinator, entries) = audited().await;
    // The two newest go, and the head is wound back to match: the chain
    // that is left verifies by itself.
    sql(&coordinator, "DELETE FROM audit WHERE seq > 6").await;
    sql(
        &coordinator,
        &format!("UPDATE audit_head SET seq = 6, mac = '{}'", entries[5].mac),
    )
    .await;
    let v = verify(&coordinator).await;
    assert!(!v.ok);
    let text = problems(&v);
    assert!(
        text.contains("names entry 8, but the trail ends at entry 6"),
        "{text}"
    );
    assert_eq!(v.problems.len(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_rewritten_from_an_entry_on_is_caught() {
    let (coordinator, entries) = audited().await;
    // Someone with the database but not the key rewrites entry 5 and
    // recomputes every mac from there on, with a key of their own, and
    // the head too.
    let theirs = AuditKey::from_bytes(&[42; 32]);
    let mut prev = entries[3].mac.clone();
    for e in &entries[4..] {
        let mut e = e.clone();
        if e.seq == 5 {
            e.detail = "{\"run\":\"another\"}".into();
        }
        let mac = audit::seal(&theirs, &e, &prev).expect("seal");
        sql(
            &coordinator,
            &format!(
                "UPDATE audit SET detail = '{}', mac = '{mac}' WHERE seq = {}",
                e.detail, e.seq
            ),
        )
        .await;
        prev = mac;
    }
    sql(
        &coordinator,
        &format!("UPDATE audit_head SET mac = '{prev}'"),
    )
    .await;
    let v = verify(&coordinator).await;
    assert!(!v.ok);
    let text = problems(&v);
    assert!(text.contains("entry 5 (run.now"), "{text}");
    assert!(
        text.contains("entry 8 is not the one the checkpoint signed"),
        "{text}"
    );
}
