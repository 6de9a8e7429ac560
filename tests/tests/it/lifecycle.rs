//! A collection's life: a draft does not run, an active one does, a
//! paused one fires nothing until activated again, a retired one is over;
//! a move its state does not allow is refused with nothing changed.

use crate::support::*;
use gpes_client::UplinkError;
use gpes_protocol::{Collection, CollectionState, Run};
use serde_json::{Value, json};

fn status(e: UplinkError) -> (u16, String) {
    match e {
        UplinkError::Refused { status, message } => (status, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_runs_only_while_active() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    // Every minute, as a draft: the scheduler (ticking every 200 ms here)
    // leaves it alone.
    let draft: Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "every minute",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "schedule": "* * * * *",
                "practices": ["A81001"],
                "purpose": "planning",
                "data_class": "aggregate",
                "draft": true,
            }),
            TIMEOUT,
        )
        .await
        .expect("draft");
    assert_eq!(draft.state, CollectionState::Draft);
    let run_now = |id: String| {
        let admin = admin.clone();
        async move {
            admin
                .post::<_, Run>(&format!("/v1/collections/{id}/run"), &(), TIMEOUT)
                .await
        }
    };
    let move_to = |id: String, verb: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .post::<_, Collection>(&format!("/v1/collections/{id}/{verb}"), &(), TIMEOUT)
                .await
        }
    };
    let before = coordinator.snapshot().await;
    let (code, message) = status(run_now(draft.id.clone()).await.expect_err("a draft"));
    assert_eq!(code, 409, "{message}");
    assert!(message.contains("is draft"), "{message}");
    for verb in ["pause"] {
        let (code, message) = status(move_to(draft.id.clone(), verb).await.expect_err(verb));
        assert_eq!(code, 409, "{verb}: {message}");
    }
    assert_eq!(before, coordinator.snapshot().await);
    assert_eq!(coordinator.count("runs").await, 0, "a draft never fires");

    let active = move_to(draft.id.clone(), "activate")
        .await
        .expect("activate");
    assert_eq!(active.state, CollectionState::Active);
    run_now(draft.id.clone())
        .await
        .expect("an active collection runs");
    let paused = move_to(draft.id.clone(), "pause").await.expect("pause");
    assert_eq!(paused.state, CollectionState::Paused);
    let runs = coordinator.count("runs").await;
    let (code, _) = status(run_now(draft.id.clone()).await.expect_err("paused"));
    assert_eq!(code, 409);
    // Past the next minute boundary, the paused schedule has fired nothing.
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    assert_eq!(
        coordinator.count("runs").await,
        runs,
        "a paused collection fired"
    );

    let retired = move_to(draft.id.clone(), "retire").await.expect("retire");
    assert_eq!(retired.state, CollectionState::Retired);
    let before = coordinator.snapshot().await;
    for verb in ["activate", "pause", "retire"] {
        let (code, message) = status(move_to(draft.id.clone(), verb).await.expect_err(verb));
        assert_eq!(code, 409, "{verb}: {message}");
        assert!(message.contains("is retired"), "{message}");
    }
    let (code, _) = status(
        admin
            .post::<_, Value>("/v1/collections/collection-none/pause", &(), TIMEOUT)
            .await
            .expect_err("unknown"),
    );
    assert_eq!(code, 404);
    assert_eq!(before, coordinator.snapshot().await);

    let trail: gpes_protocol::Page<gpes_protocol::AuditEntry> =
        admin.get("/v1/audit", TIMEOUT).await.expect("audit");
    let moves: Vec<&str> = trail
        .items
        .iter()
        .rev()
        .filter(|e| e.target == draft.id && e.action.starts_with("collection."))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        moves,
        [
            "collection.create",
            "collection.activate",
            "collection.pause",
            "collection.retire"
        ]
    );
}
