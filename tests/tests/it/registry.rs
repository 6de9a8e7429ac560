//! The practices registry: an idempotent import that says what changed,
//! successors, and the rule that collections and tokens name only active
//! practices of the registry (and runs make jobs only for those).

use crate::support::*;
use gpes_protocol::{
    Practice, PracticeImportRequest, PracticeImportResponse, PracticeRecord, PracticeSetRequest,
    PracticeStatus, SuccessorRecord,
};

fn record(code: &str, name: &str, status: PracticeStatus, closed: Option<&str>) -> PracticeRecord {
    PracticeRecord {
        code: code.into(),
        name: name.into(),
        region: "15N".into(),
        status,
        open_date: Some("1974-04-01".into()),
        close_date: closed.map(str::to_owned),
    }
}

async fn import(
    coordinator: &Coordinator,
    practices: Vec<PracticeRecord>,
    successors: Vec<SuccessorRecord>,
) -> Result<PracticeImportResponse, gpes_client::UplinkError> {
    coordinator
        .operator()
        .post(
            "/v1/practices/import",
            &PracticeImportRequest {
                practices,
                successors,
            },
            TIMEOUT,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_is_idempotent_and_says_what_changed() {
    let coordinator = Coordinator::start().await;
    let first = vec![
        record("M85001", "Riverside Surgery", PracticeStatus::Active, None),
        record(
            "M85002",
            "Hill Street Practice",
            PracticeStatus::Active,
            None,
        ),
    ];
    let r = import(&coordinator, first.clone(), vec![])
        .await
        .expect("import");
    assert_eq!(r.added, ["M85001", "M85002"]);
    let again = import(&coordinator, first, vec![]).await.expect("import");
    assert!(
        again.added.is_empty() && again.changed.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.unchanged, 2);

    // Hill Street closes and merges into Riverside; Riverside is renamed.
    let r = import(
        &coordinator,
        vec![
            record(
                "M85001",
                "Riverside Medical Centre",
                PracticeStatus::Active,
                None,
            ),
            record(
                "M85002",
                "Hill Street Practice",
                PracticeStatus::Closed,
                Some("2025-09-30"),
            ),
        ],
        vec![SuccessorRecord {
            code: "M85002".into(),
            successor: "M85001".into(),
        }],
    )
    .await
    .expect("import");
    let changed: Vec<String> = r
        .changed
        .iter()
        .map(|(code, fields)| format!("{code}: {}", fields.join("; ")))
        .collect();
    assert_eq!(
        changed,
        [
            "M85001: name: Riverside Surgery -> Riverside Medical Centre",
            "M85002: status: active -> closed; close date: - -> 2025-09-30",
            "M85002: successor: - -> M85001",
        ]
    );
    let closed: Practice = coordinator
        .operator()
        .get("/v1/practices/M85002", TIMEOUT)
        .await
        .expect("show");
    assert_eq!(closed.status, PracticeStatus::Closed);
    assert_eq!(closed.successor.as_deref(), Some("M85001"));

    // What the file does not carry is set by hand, and kept by imports.
    let set: Practice = coordinator
        .operator()
        .post(
            "/v1/practices/M85001",
            &PracticeSetRequest {
                supplier: Some("Example Systems".into()),
                clinical_system: Some("ExampleGP 9".into()),
                test: None,
            },
            TIMEOUT,
        )
        .await
        .expect("set");
    assert_eq!(set.supplier.as_deref(), Some("Example Systems"));
    import(
        &coordinator,
        vec![record(
            "M85001",
            "Riverside Medical Centre",
            PracticeStatus::Active,
            None,
        )],
        vec![],
    )
    .await
    .expect("import");
    let kept: Practice = coordinator
        .operator()
        .get("/v1/practices/M85001", TIMEOUT)
        .await
        .expect("show");
    assert_eq!(kept.clinical_system.as_deref(), Some("ExampleGP 9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registry_lines_are_refused_and_change_nothing() {
    let coordinator = Coordinator::start().await;
    let before = coordinator.snapshot().await;
    let bad_date = PracticeRecord {
        open_date: Some("1974-13-01".into()),
        ..record("M85003", "A", PracticeStatus::Active, None)
    };
    for (what, practices, successors, says) in [
        ("a bad date", vec![bad_date], vec![], "not a date"),
        (
            "no name",
            vec![record("M85004", " ", PracticeStatus::Active, None)],
            vec![],
            "no name",
        ),
        (
            "a code twice",
            vec![
                record("M85005", "A", PracticeStatus::Active, None),
                record("M85005", "B", PracticeStatus::Active, None),
            ],
            vec![],
            "named twice",
        ),
        (
            "a successor the registry lacks",
            vec![record(
                "M85006",
                "A",
                PracticeStatus::Closed,
                Some("2025-01-01"),
            )],
            vec![SuccessorRecord {
                code: "M85006".into(),
                successor: "M99999".into(),
            }],
            "does not hold it",
        ),
    ] {
        let err = import(&coordinator, practices, successors)
            .await
            .expect_err(what);
        assert!(err.to_string().contains("422"), "{what}: {err}");
        assert!(err.to_string().contains(says), "{what}: {err}");
        assert_eq!(
            coordinator.snapshot().await,
            before,
            "{what} changed the store"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_active_practices_of_the_registry_get_collections_tokens_and_jobs() {
    let coordinator = Coordinator::start().await;
    import(
        &coordinator,
        vec![
            record("M85001", "Riverside", PracticeStatus::Active, None),
            record(
                "M85002",
                "Hill Street",
                PracticeStatus::Closed,
                Some("2025-09-30"),
            ),
        ],
        vec![SuccessorRecord {
            code: "M85002".into(),
            successor: "M85001".into(),
        }],
    )
    .await
    .expect("import");
    let before = coordinator.snapshot().await;
    let err = coordinator
        .create_collection(&["A81001", "M85002"], "")
        .await
        .expect_err("a closed practice");
    let message = err.to_string();
    assert!(
        message.contains("'M85002' is closed since 2025-09-30; its successor is 'M85001'"),
        "{message}"
    );
    let err = coordinator
        .create_collection(&["Q12345"], "")
        .await
        .expect_err("an unknown practice");
    assert!(
        err.to_string()
            .contains("'Q12345' is not in the practices registry"),
        "{err}"
    );
    let err = coordinator
        .operator()
        .post::<_, gpes_protocol::CreateTokenResponse>(
            "/v1/tokens",
            &gpes_protocol::CreateTokenRequest {
                practices: vec!["M85002".into()],
                ttl_seconds: 600,
            },
            TIMEOUT,
        )
        .await
        .expect_err("a token for a closed practice");
    assert!(err.to_string().contains("is closed"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);

    // A practice that closes after its collection was made gets no job.
    let collection = coordinator
        .create_collection(&["A81001", "M85001"], "")
        .await
        .expect("collection");
    import(
        &coordinator,
        vec![record(
            "M85001",
            "Riverside",
            PracticeStatus::Closed,
            Some("2026-01-31"),
        )],
        vec![],
    )
    .await
    .expect("import");
    let run = coordinator.run_now(&collection.id).await;
    let results = run_results(&coordinator.operator(), &run.id)
        .await
        .expect("results");
    let practices: Vec<&str> = results
        .results
        .iter()
        .map(|r| r.practice.as_str())
        .collect();
    assert_eq!(practices, ["A81001"]);
}

/// The practices a run made jobs for.
async fn practices_of_run(coordinator: &Coordinator, collection: &str) -> Vec<String> {
    let run = coordinator.run_now(collection).await;
    let results = run_results(&coordinator.operator(), &run.id)
        .await
        .expect("results");
    results.results.into_iter().map(|r| r.practice).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeting_resolves_from_the_registry_each_time_a_run_fires() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    // The test registry is all region 15N; two more practices, one in
    // another region, one a test practice of 15N.
    let mut other = record("M85001", "Elsewhere", PracticeStatus::Active, None);
    other.region = "99X".into();
    import(
        &coordinator,
        vec![
            other,
            record("M85003", "Test surgery", PracticeStatus::Active, None),
        ],
        vec![],
    )
    .await
    .expect("import");
    for (code, set) in [
        (
            "M85003",
            PracticeSetRequest {
                test: Some(true),
                ..Default::default()
            },
        ),
        (
            "B82002",
            PracticeSetRequest {
                supplier: Some("Acme".into()),
                ..Default::default()
            },
        ),
        (
            "M85001",
            PracticeSetRequest {
                supplier: Some("Acme".into()),
                ..Default::default()
            },
        ),
    ] {
        let _: Practice = admin
            .post(&format!("/v1/practices/{code}"), &set, TIMEOUT)
            .await
            .expect("set");
    }
    let create = |targeting: serde_json::Value, practices: Vec<&'static str>| {
        let admin = admin.clone();
        async move {
            admin
                .post::<_, gpes_protocol::Collection>(
                    "/v1/collections",
                    &serde_json::json!({
                        "name": "targeted",
                        "query": gpes_tests::registered_count_query(),
                        "parameters": { "PPED": "2025-03-31" },
                        "practices": practices,
                        "targeting": targeting,
                        "purpose": "planning",
                        "data_class": "aggregate",
                    }),
                    TIMEOUT,
                )
                .await
        }
    };
    // A region less one practice: the test practice is left out.
    let region = create(
        serde_json::json!({ "regions": ["15n"], "exclude": ["C83003"] }),
        vec![],
    )
    .await
    .expect("by region");
    assert_eq!(region.targeting.regions, ["15N"]);
    assert_eq!(
        practices_of_run(&coordinator, &region.id).await,
        ["A81001", "B82002", "D84004", "E85005", "P81001", "P81002"]
    );
    // A supplier across regions, plus one named practice.
    let supplier = create(serde_json::json!({ "suppliers": ["Acme"] }), vec!["A81001"])
        .await
        .expect("by supplier");
    assert_eq!(
        practices_of_run(&coordinator, &supplier.id).await,
        ["A81001", "B82002", "M85001"]
    );
    // All, read afresh at each run: a practice that closes drops out, and
    // a named practice that merged is replaced by its successor.
    let all = create(
        serde_json::json!({ "all": true, "exclude": ["M85001"] }),
        vec![],
    )
    .await
    .expect("all");
    let named = create(serde_json::json!({}), vec!["E85005"])
        .await
        .expect("named");
    import(
        &coordinator,
        vec![record(
            "E85005",
            "Test practice E85005",
            PracticeStatus::Closed,
            Some("2026-06-30"),
        )],
        vec![SuccessorRecord {
            code: "E85005".into(),
            successor: "D84004".into(),
        }],
    )
    .await
    .expect("close E85005");
    assert_eq!(
        practices_of_run(&coordinator, &all.id).await,
        ["A81001", "B82002", "C83003", "D84004", "P81001", "P81002"]
    );
    assert_eq!(practices_of_run(&coordinator, &named.id).await, ["D84004"]);

    // What the registry does not hold is refused, and nothing changes.
    let before = coordinator.snapshot().await;
    for (targeting, words) in [
        (
            serde_json::json!({ "regions": ["00Z"] }),
            "'00Z' is not a region",
        ),
        (
            serde_json::json!({ "suppliers": ["Nobody"] }),
            "'Nobody' is not a supplier",
        ),
        (
            serde_json::json!({ "all": true, "exclude": ["Q12345"] }),
            "'Q12345' is not a practice",
        ),
        (
            serde_json::json!({ "regions": ["15N", "15n"] }),
            "named twice",
        ),
        (serde_json::json!({ "regions": ["1"] }), "is not a region"),
        (serde_json::json!({}), "needs practices"),
        (serde_json::json!({ "region": ["15N"] }), "unknown field"),
    ] {
        let err = create(targeting.clone(), vec![])
            .await
            .expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains("422") && message.contains(words),
            "{targeting}: {message}"
        );
    }
    assert_eq!(coordinator.snapshot().await, before);
}
