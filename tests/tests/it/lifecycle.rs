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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timetable_lists_each_active_collections_coming_runs_for_whoever_it_reaches() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let make = |name: &'static str, schedule: &'static str, practices: Vec<&'static str>| {
        let admin = admin.clone();
        async move {
            admin
                .post::<_, Collection>(
                    "/v1/collections",
                    &json!({
                        "name": name,
                        "query": gpes_tests::registered_count_query(),
                        "parameters": { "PPED": "2025-03-31" },
                        "schedule": schedule,
                        "practices": practices,
                        "purpose": "planning",
                        "data_class": "aggregate",
                    }),
                    TIMEOUT,
                )
                .await
                .expect("collection")
        }
    };
    // Mondays at 06:00 London time, over A81001 and B82002; daily over
    // B82002 only; a paused one; one run by hand only.
    let weekly = make("weekly", "0 6 * * 1", vec!["A81001", "B82002"]).await;
    let daily = make("daily", "30 7 * * *", vec!["B82002"]).await;
    let paused = make("paused", "0 6 * * *", vec!["A81001"]).await;
    let _: Collection = admin
        .post(
            &format!("/v1/collections/{}/pause", paused.id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("pause");
    make("by hand", "", vec!["A81001"]).await;

    let all: Vec<gpes_protocol::TimetableEntry> = admin
        .get("/v1/timetable?weeks=2", TIMEOUT)
        .await
        .expect("timetable");
    let weekly_runs: Vec<&gpes_protocol::TimetableEntry> = all
        .iter()
        .filter(|e| e.collection_id == weekly.id)
        .collect();
    let daily_runs = all.iter().filter(|e| e.collection_id == daily.id).count();
    assert_eq!(weekly_runs.len(), 2, "{all:?}");
    assert!((14..=15).contains(&daily_runs), "{daily_runs}");
    assert_eq!(all.len(), weekly_runs.len() + daily_runs, "{all:?}");
    for e in &weekly_runs {
        assert!(e.due_local.contains("T06:00:00"), "{}", e.due_local);
        assert_eq!(e.practice_count, 2);
        assert!(e.practices.is_empty(), "operators see counts");
    }
    assert!(
        all.windows(2).all(|w| w[0].due_ms <= w[1].due_ms),
        "soonest first"
    );

    // A practice's user sees the runs that reach their practice, and which.
    let _: gpes_protocol::User = admin
        .post("/v1/users", &json!({ "id": "pat", "name": "Pat" }), TIMEOUT)
        .await
        .expect("user");
    let _: gpes_protocol::User = admin
        .post(
            "/v1/users/pat/grants",
            &json!({ "role": "B1845", "scope": "A81001" }),
            TIMEOUT,
        )
        .await
        .expect("grant");
    let token: gpes_protocol::CreateUserTokenResponse = admin
        .post("/v1/users/pat/tokens", &json!({ "ttl_days": 1 }), TIMEOUT)
        .await
        .expect("token");
    let pat = gpes_client::Uplink::new(
        &coordinator.running.operator_addr.to_string(),
        gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls"),
    )
    .expect("uplink")
    .with_bearer(&token.secret);
    let hers: Vec<gpes_protocol::TimetableEntry> = pat
        .get("/v1/timetable?weeks=2", TIMEOUT)
        .await
        .expect("her timetable");
    assert_eq!(hers.len(), 2, "{hers:?}");
    assert!(
        hers.iter()
            .all(|e| e.collection_id == weekly.id && e.practices == ["A81001"])
    );

    for bad in ["weeks=0", "weeks=27", "weeks=x", "days=3"] {
        let (code, _) = status(
            admin
                .get::<Value>(&format!("/v1/timetable?{bad}"), TIMEOUT)
                .await
                .expect_err(bad),
        );
        assert!(code == 400 || code == 422, "{bad}: {code}");
    }
}
