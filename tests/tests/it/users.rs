//! People: users with API tokens (shown once, stored hashed, expiring,
//! revocable, last use recorded) and role grants, every change audited
//! with who did it under which grant; bad input refused with nothing
//! changed.

use crate::support::*;
use gpes_client::{Uplink, UplinkError};
use gpes_protocol::{
    AuditEntry, CreateUserRequest, CreateUserTokenRequest, CreateUserTokenResponse, GrantSpec, Me,
    Page, User, UserToken,
};
use serde_json::{Value, json};

fn refused(e: UplinkError) -> (u16, String) {
    match e {
        UplinkError::Refused { status, message } => (status, message),
        other => panic!("expected a refusal, got {other}"),
    }
}

async fn add_user(admin: &Uplink, id: &str, grant: Option<(&str, Option<&str>)>) -> User {
    let mut user: User = admin
        .post(
            "/v1/users",
            &CreateUserRequest {
                id: id.into(),
                name: format!("User {id}"),
            },
            TIMEOUT,
        )
        .await
        .expect("user");
    if let Some((role, scope)) = grant {
        user = admin
            .post(
                &format!("/v1/users/{id}/grants"),
                &GrantSpec {
                    role: role.into(),
                    scope: scope.map(str::to_owned),
                },
                TIMEOUT,
            )
            .await
            .expect("grant");
    }
    user
}

async fn token_for(admin: &Uplink, id: &str) -> CreateUserTokenResponse {
    admin
        .post(
            &format!("/v1/users/{id}/tokens"),
            &CreateUserTokenRequest {
                ttl_days: 30,
                label: Some("laptop".into()),
            },
            TIMEOUT,
        )
        .await
        .expect("token")
}

fn as_user(coordinator: &Coordinator, secret: &str) -> Uplink {
    Uplink::new(
        &coordinator.running.operator_addr.to_string(),
        gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls"),
    )
    .expect("uplink")
    .with_bearer(secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_shown_once_works_until_revoked_and_its_use_is_recorded() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let user = add_user(&admin, "alice", Some(("collection-manager", None))).await;
    assert_eq!(user.grants.len(), 1);
    let token = token_for(&admin, "alice").await;
    assert!(token.secret.starts_with("gpes-user-"), "{}", token.secret);
    assert!(token.secret.len() >= "gpes-user-".len() + 43, "256 bits");

    // Never stored or shown again: only its hash is kept.
    let shown: User = admin.get("/v1/users/alice", TIMEOUT).await.expect("show");
    assert_eq!(shown.tokens.len(), 1);
    assert_eq!(shown.tokens[0].last_used_ms, None);
    let stored: Vec<(String,)> = sqlx::query_as("SELECT secret_hash FROM user_tokens")
        .fetch_all(coordinator.running.db.pool())
        .await
        .expect("read");
    assert_eq!(stored[0].0, gpes_pki::hash_secret(&token.secret));
    assert!(
        !serde_json::to_string(&shown)
            .expect("json")
            .contains(&token.secret)
    );

    let alice = as_user(&coordinator, &token.secret);
    let me: Me = alice.get("/v1/me", TIMEOUT).await.expect("me");
    assert_eq!(me.actor, "alice");
    assert_eq!(me.grants[0].role, "collection-manager");
    let shown: User = admin.get("/v1/users/alice", TIMEOUT).await.expect("show");
    assert!(shown.tokens[0].last_used_ms.is_some(), "{shown:?}");

    // Her actions are hers on the audit trail, under her grant.
    let collection = {
        let c: gpes_protocol::Collection = alice
            .post(
                "/v1/collections",
                &json!({
                    "name": "alice's",
                    "query": gpes_tests::registered_count_query(),
                    "parameters": { "PPED": "2025-03-31" },
                    "schedule": "",
                    "practices": ["A81001"],
                    "purpose": "planning",
                    "data_class": "aggregate",
                }),
                TIMEOUT,
            )
            .await
            .expect("collection");
        c.id
    };
    let trail: Page<AuditEntry> = admin.get("/v1/audit", TIMEOUT).await.expect("audit");
    let entry = trail
        .items
        .iter()
        .find(|e| e.action == "collection.create")
        .expect("audited");
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.grant.as_str(),
            entry.target.as_str()
        ),
        ("alice", "collection-manager", collection.as_str())
    );
    // What her grant does not allow, she is refused.
    let (status, message) = refused(
        alice
            .get::<Value>("/v1/audit", TIMEOUT)
            .await
            .expect_err("no audit for a collection manager"),
    );
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("collection-manager"), "{message}");
    // The refusal is logged under her name.
    let logged: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM refusals WHERE route = 'GET /v1/audit'")
            .fetch_all(coordinator.running.db.pool())
            .await
            .expect("refusals");
    assert_eq!(logged, [("alice".to_string(),)]);

    // Revoked: refused from then on.
    let revoked: UserToken = admin
        .post(
            &format!("/v1/user-tokens/{}/revoke", token.token_id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("revoke");
    assert!(revoked.revoked_ms.is_some());
    let (status, _) = refused(
        alice
            .get::<Me>("/v1/me", TIMEOUT)
            .await
            .expect_err("revoked"),
    );
    assert_eq!(status, 401);

    // A user may revoke a token of their own, and no one else's.
    let first = token_for(&admin, "alice").await;
    let second = token_for(&admin, "alice").await;
    add_user(&admin, "bob", Some(("viewer", None))).await;
    let bobs = token_for(&admin, "bob").await;
    let alice = as_user(&coordinator, &first.secret);
    let before = coordinator.snapshot().await;
    let (status, _) = refused(
        alice
            .post::<_, UserToken>(
                &format!("/v1/me/tokens/{}/revoke", bobs.token_id),
                &(),
                TIMEOUT,
            )
            .await
            .expect_err("not hers"),
    );
    assert_eq!(status, 404);
    assert_eq!(before, coordinator.snapshot().await);
    let _: UserToken = alice
        .post(
            &format!("/v1/me/tokens/{}/revoke", second.token_id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("her own");
    let _: Me = alice.get("/v1/me", TIMEOUT).await.expect("the other works");

    // Disabled: none of her tokens works.
    let _: User = admin
        .post("/v1/users/alice/disable", &(), TIMEOUT)
        .await
        .expect("disable");
    let (status, _) = refused(
        alice
            .get::<Me>("/v1/me", TIMEOUT)
            .await
            .expect_err("disabled"),
    );
    assert_eq!(status, 401);
    let (status, _) = refused(
        admin
            .post::<_, CreateUserTokenResponse>(
                "/v1/users/alice/tokens",
                &CreateUserTokenRequest {
                    ttl_days: 1,
                    label: None,
                },
                TIMEOUT,
            )
            .await
            .expect_err("no tokens for the disabled"),
    );
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    add_user(&admin, "carol", Some(("viewer", None))).await;
    let token = token_for(&admin, "carol").await;
    let carol = as_user(&coordinator, &token.secret);
    let _: Me = carol.get("/v1/me", TIMEOUT).await.expect("fresh");
    // Its expiry moved into the past, as time would.
    sqlx::query("UPDATE user_tokens SET expires_ms = 1 WHERE id = $1")
        .bind(&token.token_id)
        .execute(coordinator.running.db.pool())
        .await
        .expect("age the token");
    let (status, message) = refused(carol.get::<Me>("/v1/me", TIMEOUT).await.expect_err("old"));
    assert_eq!(status, 401);
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_users_grants_and_tokens_are_refused_with_nothing_changed() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    add_user(&admin, "dave", None).await;
    let before = coordinator.snapshot().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/v1/users",
            json!({ "id": "dave", "name": "Dave again" }),
            409,
            "already exists",
        ),
        (
            "/v1/users",
            json!({ "id": "Dave Smith", "name": "D" }),
            422,
            "not a user name",
        ),
        (
            "/v1/users",
            json!({ "id": "erin", "name": " " }),
            422,
            "name",
        ),
        (
            "/v1/users",
            json!({ "id": "admin", "name": "Admin" }),
            422,
            "bootstrap",
        ),
        (
            "/v1/users",
            json!({ "id": "erin", "name": "E", "role": "admin" }),
            422,
            "role",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "owner" }),
            422,
            "not a role",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "B1843" }),
            422,
            "needs a scope",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "admin", "scope": "A81001" }),
            422,
            "no scope",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "B1843", "scope": "Z99999" }),
            422,
            "registry",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "commissioner", "scope": "00X" }),
            422,
            "region",
        ),
        (
            "/v1/users/dave/grants",
            json!({ "role": "supplier", "scope": "Nobody Ltd" }),
            422,
            "practice set",
        ),
        (
            "/v1/users/nobody/grants",
            json!({ "role": "viewer" }),
            404,
            "does not exist",
        ),
        (
            "/v1/users/dave/grants/remove",
            json!({ "role": "viewer" }),
            422,
            "does not hold",
        ),
        (
            "/v1/users/dave/tokens",
            json!({ "ttl_days": 0 }),
            422,
            "between 1 and 365",
        ),
        (
            "/v1/users/dave/tokens",
            json!({ "ttl_days": 366 }),
            422,
            "between 1 and 365",
        ),
        (
            "/v1/users/dave/tokens",
            json!({ "ttl_days": 99999999999u64 }),
            422,
            "ttl_days",
        ),
        (
            "/v1/users/dave/tokens",
            json!({ "ttl_days": -1 }),
            422,
            "ttl_days",
        ),
        (
            "/v1/users/nobody/tokens",
            json!({ "ttl_days": 1 }),
            404,
            "does not exist",
        ),
        (
            "/v1/user-tokens/token-none/revoke",
            Value::Null,
            404,
            "does not exist",
        ),
    ];
    for (path, body, status, words) in cases {
        let (got, message) = refused(
            admin
                .post::<_, Value>(path, &body, TIMEOUT)
                .await
                .expect_err(path),
        );
        assert_eq!(got, status, "{path} {body}: {message}");
        assert!(message.contains(words), "{path} {body}: {message}");
        assert_eq!(before, coordinator.snapshot().await, "{path} {body}");
    }
    // A bearer that looks like a user's token but is not one.
    let forged = as_user(
        &coordinator,
        "gpes-user-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let (status, _) = refused(
        forged
            .get::<Me>("/v1/me", TIMEOUT)
            .await
            .expect_err("forged"),
    );
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_user_reads_only_their_practices_results_on_the_trail() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001", "B82002"], 600).await;
    let _agent = start_agent(dir.path(), &token.token, &["A81001", "B82002"]).await;
    let collection = coordinator
        .create_collection(&["A81001", "B82002"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let all = coordinator.wait_done(&run.id).await;
    assert_eq!(all.results.len(), 2);

    add_user(&admin, "pat", Some(("B1843", Some("a81001")))).await;
    let pat = as_user(&coordinator, &token_for(&admin, "pat").await.secret);
    let mine: gpes_protocol::RunResults = pat
        .get(
            &format!("/v1/runs/{}/results?practice=A81001", run.id),
            TIMEOUT,
        )
        .await
        .expect("her practice's");
    assert_eq!(mine.results.len(), 1);
    assert_eq!(mine.results[0].practice, "A81001");
    assert!(mine.results[0].result.is_some());
    let (status, message) = refused(
        pat.get::<Value>(&format!("/v1/runs/{}/results", run.id), TIMEOUT)
            .await
            .expect_err("all"),
    );
    assert_eq!(status, 403);
    assert!(message.contains("?practice="), "{message}");
    let practices: Page<gpes_protocol::Practice> =
        pat.get("/v1/practices", TIMEOUT).await.expect("practices");
    let codes: Vec<&str> = practices.items.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, ["A81001"]);

    let trail: Page<AuditEntry> = admin.get("/v1/audit", TIMEOUT).await.expect("audit");
    let read = trail
        .items
        .iter()
        .find(|e| e.action == "results.read" && e.actor == "pat")
        .expect("her read is on the trail");
    assert_eq!(read.grant, "B1843:A81001");
    assert!(read.detail.contains("A81001"), "{}", read.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_level_results_are_an_audited_download_for_the_roles_allowed_it() {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    // A synthetic practice with a diabetes register, and a small one.
    let practice = gpes_synth::generate(&gpes_synth::PracticeConfig::new(11, "P81001", 1_000));
    let folder = dir.path().join("P81001");
    gpes_synth::write_csv_export(&practice, &folder).expect("written");
    let data = [
        ("P81001", folder),
        ("B82002", gpes_tests::practice_data("B82002")),
    ];
    let token = coordinator.token(&["P81001", "B82002"], 600).await;
    let _agent = start_agent_with(&dir.path().join("agent"), &token.token, &data).await;
    let mut parameters = std::collections::BTreeMap::new();
    parameters.insert("PPED".to_string(), "2025-03-31".to_string());
    let collection: gpes_protocol::Collection = admin
        .post(
            "/v1/collections",
            &gpes_protocol::CreateCollectionRequest {
                name: "diabetes register, per patient".into(),
                query: gpes_tests::example_query("dm_reg_patients.yaml"),
                query_ref: None,
                parameters,
                schedule: String::new(),
                practices: vec!["P81001".into(), "B82002".into()],
                targeting: Default::default(),
                purpose: gpes_protocol::Purpose::DirectCare,
                data_class: gpes_protocol::DataClass::PatientIdentifiable,
                deadline_seconds: None,
                draft: false,
                terms: gpes_protocol::CollectionTerms {
                    legal_basis: Some("direct care (common law duty of confidence)".into()),
                    approval_reference: Some("CAG 23/CAG/0001".into()),
                    ..Default::default()
                },
            },
            TIMEOUT,
        )
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let done = coordinator.wait_done(&run.id).await;
    assert_eq!(done.summary.jobs.done, 2, "{:?}", done.summary);
    // The results page does not carry records.
    assert!(done.results.iter().all(|r| r.result.is_none()));

    let records: gpes_protocol::RecordsDownload = admin
        .get(
            &format!("/v1/runs/{}/records?practice=P81001", run.id),
            TIMEOUT,
        )
        .await
        .expect("download");
    assert_eq!(records.practice, "P81001");
    assert!(!records.records.rows.is_empty(), "{records:?}");
    let stored = coordinator.stored(&records.job_id).await.expect("stored");
    assert_eq!(records.extract_hash.to_string(), stored.2);

    add_user(&admin, "val", Some(("viewer", None))).await;
    add_user(&admin, "pat", Some(("B1843", Some("P81001")))).await;
    let val = as_user(&coordinator, &token_for(&admin, "val").await.secret);
    let pat = as_user(&coordinator, &token_for(&admin, "pat").await.secret);
    let before = coordinator.snapshot().await;
    for (who, up, practice) in [("viewer", &val, "P81001"), ("pat", &pat, "B82002")] {
        let (status, message) = refused(
            up.get::<Value>(
                &format!("/v1/runs/{}/records?practice={practice}", run.id),
                TIMEOUT,
            )
            .await
            .expect_err(who),
        );
        assert_eq!(status, 403, "{who}: {message}");
    }
    assert_eq!(before, coordinator.snapshot().await);
    let hers: gpes_protocol::RecordsDownload = pat
        .get(
            &format!("/v1/runs/{}/records?practice=p81001", run.id),
            TIMEOUT,
        )
        .await
        .expect("her practice's records");
    assert_eq!(hers.records, records.records);

    let trail: Page<AuditEntry> = admin.get("/v1/audit", TIMEOUT).await.expect("audit");
    let downloads: Vec<(&str, &str)> = trail
        .items
        .iter()
        .filter(|e| e.action == "records.download")
        .map(|e| (e.actor.as_str(), e.grant.as_str()))
        .collect();
    assert_eq!(downloads, [("pat", "B1843:P81001"), ("admin", "admin")]);
}
