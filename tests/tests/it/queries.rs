//! The query library: versions are immutable, a push of a query the
//! library holds gives back its version, a changed one makes the next; a
//! collection names a version (pushing its text when given inline), and a
//! bad query or reference changes nothing.

use crate::support::*;
use gpes_client::UplinkError;
use gpes_protocol::{Collection, PushQueryRequest, PushQueryResponse, QueryRef, QueryVersion};
use serde_json::{Value, json};

fn status(e: UplinkError) -> (u16, String) {
    match e {
        UplinkError::Refused { status, message } => (status, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_made_by_changes_and_named_by_collections() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let text = gpes_tests::registered_count_query();
    let push = |source: String| {
        let admin = admin.clone();
        async move {
            admin
                .post::<_, PushQueryResponse>("/v1/queries", &PushQueryRequest { source }, TIMEOUT)
                .await
        }
    };
    let first = push(text.clone()).await.expect("push");
    assert!(first.created);
    assert_eq!(
        (first.query.id.as_str(), first.query.version),
        ("registered", 1)
    );
    // The same query again, even with another comment: the same version.
    let again = push(format!("# pushed twice\n{text}"))
        .await
        .expect("again");
    assert!(!again.created);
    assert_eq!(again.query.version, 1);
    assert_eq!(again.query.hash, first.query.hash);
    // A changed query: the next version; the first is unchanged.
    let changed = text.replace("title:", "title: Changed -");
    assert_ne!(changed, text, "the example has a title to change");
    let second = push(changed.clone()).await.expect("changed");
    assert!(second.created);
    assert_eq!(second.query.version, 2);
    assert_ne!(second.query.hash, first.query.hash);
    let v1: QueryVersion = admin
        .get("/v1/queries/registered/1", TIMEOUT)
        .await
        .expect("v1");
    assert_eq!(v1.source.as_deref(), Some(text.as_str()));
    let all: Vec<QueryVersion> = admin
        .get("/v1/queries/registered", TIMEOUT)
        .await
        .expect("versions");
    assert_eq!(
        all.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2],
        "{all:?}"
    );
    assert!(
        all.iter().all(|v| v.source.is_none()),
        "lists leave texts out"
    );
    let newest: gpes_protocol::Page<QueryVersion> =
        admin.get("/v1/queries", TIMEOUT).await.expect("list");
    assert_eq!(newest.items.len(), 1);
    assert_eq!(newest.items[0].version, 2);

    // A collection naming version 1 runs exactly version 1.
    let mut request = json!({
        "name": "by reference",
        "query_ref": { "id": "registered", "version": 1 },
        "parameters": { "PPED": "2025-03-31" },
        "practices": ["A81001"],
        "purpose": "planning",
        "data_class": "aggregate",
    });
    let c: Collection = admin
        .post("/v1/collections", &request, TIMEOUT)
        .await
        .expect("collection by reference");
    assert_eq!(
        c.query_ref,
        QueryRef {
            id: "registered".into(),
            version: 1
        }
    );
    assert_eq!(c.query.hash, first.query.hash);
    // Given inline, the text is found in the library (or pushed).
    let inline = coordinator
        .create_collection_of(&changed, &["A81001"], "")
        .await
        .expect("inline");
    assert_eq!(inline.query_ref.version, 2);

    // Bad references and texts change nothing.
    let before = coordinator.snapshot().await;
    request["query_ref"]["version"] = json!(9);
    let (code, message) = status(
        admin
            .post::<_, Value>("/v1/collections", &request, TIMEOUT)
            .await
            .expect_err("no version 9"),
    );
    assert_eq!(code, 404, "{message}");
    assert!(message.contains("registered version 9"), "{message}");
    request["query"] = json!(text);
    request["query_ref"]["version"] = json!(1);
    let (code, message) = status(
        admin
            .post::<_, Value>("/v1/collections", &request, TIMEOUT)
            .await
            .expect_err("both"),
    );
    assert_eq!(code, 422, "{message}");
    for bad in ["", "id: [unclosed", "id: x\ntitle: y\n"] {
        let (code, message) = status(push(bad.to_owned()).await.expect_err(bad));
        assert_eq!(code, 422, "{bad:?}: {message}");
    }
    let (code, _) = status(
        admin
            .get::<Value>("/v1/queries/registered/x", TIMEOUT)
            .await
            .expect_err("not a number"),
    );
    assert_eq!(code, 400);
    let (code, _) = status(
        admin
            .get::<Value>("/v1/queries/nothing", TIMEOUT)
            .await
            .expect_err("unknown"),
    );
    assert_eq!(code, 404);
    assert_eq!(before, coordinator.snapshot().await);
}
