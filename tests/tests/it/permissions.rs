//! Who may do what, table-driven: every route the routers serve (read
//! from their source, so a new route without a row here fails the test)
//! is called by every role, and each call is either allowed or refused as
//! the table says; a refused call leaves every state table as it was. It
//! covers a practice's user asking for another practice's results and an
//! agent asking for (or answering for) another agent's jobs.

use crate::support::*;
use gpes_client::{Uplink, UplinkError};
use gpes_protocol::{
    CreateUserRequest, CreateUserTokenRequest, CreateUserTokenResponse, FailureReport, GrantSpec,
    PollRequest, PollResponse, PracticeImportRequest, PracticeImportResponse, PracticeRecord,
    PracticeSetRequest, PracticeStatus, Receipt, User,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The roles a caller may come as: no token, the bootstrap admin token,
/// and one user per role (scoped to A81001, its region 15N, its supplier
/// Acme), and a user with no grant at all.
const ROLES: [&str; 14] = [
    "anonymous",
    "bootstrap",
    "admin",
    "collection-manager",
    "viewer",
    "B1842",
    "B1843",
    "B1844",
    "B1845",
    "declarer",
    "commissioner",
    "recipient",
    "supplier",
    "nobody",
];

const OPERATORS: &[&str] = &["bootstrap", "admin", "collection-manager", "viewer"];
const ADMINS: &[&str] = &["bootstrap", "admin"];
const MANAGERS: &[&str] = &["bootstrap", "admin", "collection-manager"];

/// Who may make a call.
enum Allowed {
    /// Anyone, signed in or not: the answer does not depend on the role.
    Everyone,
    /// Anyone signed in.
    SignedIn,
    /// These roles only.
    Roles(Vec<&'static str>),
}

struct Case {
    /// The route, as the router declares it.
    method: &'static str,
    route: &'static str,
    /// The call made.
    path: String,
    body: Option<Value>,
    allowed: Allowed,
}

fn case(
    method: &'static str,
    route: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    allowed: Allowed,
) -> Case {
    Case {
        method,
        route,
        path: path.into(),
        body,
        allowed,
    }
}

fn roles(list: &[&'static str]) -> Allowed {
    Allowed::Roles(list.to_vec())
}

fn plus(base: &[&'static str], more: &[&'static str]) -> Allowed {
    Allowed::Roles(base.iter().chain(more).copied().collect())
}

/// The status a call got: 2xx as 200 (the body is not always JSON: an
/// export is CSV).
async fn status_of(up: &Uplink, method: &str, path: &str, body: Option<&Value>) -> u16 {
    let answer: Result<Value, UplinkError> = match method {
        "GET" => up.get(path, TIMEOUT).await,
        "POST" => up.post(path, body.unwrap_or(&Value::Null), TIMEOUT).await,
        "PUT" => up.put(path, body.unwrap_or(&Value::Null), TIMEOUT).await,
        other => panic!("no method {other} in the table"),
    };
    match answer {
        Ok(_) | Err(UplinkError::BadAnswer(_)) => 200,
        Err(UplinkError::Refused { status, .. }) => status,
        Err(e @ UplinkError::Unreachable { .. }) => panic!("{method} {path}: {e}"),
    }
}

struct Fixture {
    coordinator: Coordinator,
    uplinks: BTreeMap<&'static str, Uplink>,
    run: String,
    spare_run: String,
    collection: String,
    agent_a: String,
    agent_b: String,
    agent_c: String,
    agent_a_dir: std::path::PathBuf,
    agent_b_dir: std::path::PathBuf,
    held_job: gpes_protocol::Job,
    spare_token: String,
    /// A draft collection the lifecycle routes act on.
    draft: String,
    _dirs: Vec<tempfile::TempDir>,
}

async fn poll_as(agent: &Uplink, practices: &[&str]) -> PollResponse {
    agent
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
        .expect("poll")
}

async fn fixture() -> Fixture {
    let coordinator = Coordinator::start().await;
    let admin = coordinator.operator();
    // B82002 moves to another region and another supplier than A81001.
    let moved: PracticeImportResponse = admin
        .post(
            "/v1/practices/import",
            &PracticeImportRequest {
                practices: vec![PracticeRecord {
                    code: "B82002".into(),
                    name: "Test practice B82002".into(),
                    region: "99X".into(),
                    status: PracticeStatus::Active,
                    open_date: Some("2000-01-01".into()),
                    close_date: None,
                }],
                successors: vec![],
            },
            TIMEOUT,
        )
        .await
        .expect("import");
    assert_eq!(moved.changed.len(), 1, "{moved:?}");
    for (code, supplier) in [("A81001", "Acme"), ("B82002", "Other")] {
        let _: Value = admin
            .post(
                &format!("/v1/practices/{code}"),
                &PracticeSetRequest {
                    supplier: Some(supplier.into()),
                    ..Default::default()
                },
                TIMEOUT,
            )
            .await
            .expect("set supplier");
    }

    // Three agents, spoken for by the test (nothing runs in the
    // background, so a refused call is the only thing that could change
    // the state between two snapshots).
    let mut dirs = Vec::new();
    let mut agent_dirs = Vec::new();
    let mut agent_ids = Vec::new();
    for practice in ["A81001", "B82002", "C83003"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let token = coordinator.token(&[practice], 600).await;
        agent_dirs.push(enroll_only(dir.path(), &token.token).await);
        agent_ids.push(token.agent_id);
        dirs.push(dir);
    }
    let agent_a = agent_uplink(&coordinator, &agent_dirs[0]);
    let agent_b = agent_uplink(&coordinator, &agent_dirs[1]);

    // A run with a stored result for each of the two practices.
    let collection = coordinator
        .create_collection(&["A81001", "B82002"], "")
        .await
        .expect("collection")
        .id;
    let run = coordinator.run_now(&collection).await.id;
    for (agent, practice) in [(&agent_a, "A81001"), (&agent_b, "B82002")] {
        let polled = poll_as(agent, &[practice]).await;
        assert_eq!(polled.jobs.len(), 1, "{polled:?}");
        let _: Receipt = agent
            .post("/v1/results", &upload_for(&polled.jobs[0], 100), TIMEOUT)
            .await
            .expect("upload");
    }
    let draft: gpes_protocol::Collection = admin
        .post(
            "/v1/collections",
            &json!({
                "name": "a draft",
                "query": gpes_tests::registered_count_query(),
                "parameters": { "PPED": "2025-03-31" },
                "practices": ["A81001"],
                "purpose": "planning",
                "data_class": "aggregate",
                "draft": true,
            }),
            TIMEOUT,
        )
        .await
        .expect("draft");
    // A run left waiting (to be cancelled), and a job agent A holds.
    let spare_run = coordinator.run_now(&collection).await.id;
    let polled = poll_as(&agent_a, &["A81001"]).await;
    let held_job = polled.jobs[0].clone();
    for job in polled.jobs.iter().skip(1) {
        let _: Value = agent_a
            .post(
                "/v1/failures",
                &FailureReport {
                    job_id: job.job_id.clone(),
                    reason: "not needed by the test".into(),
                    retryable: false,
                },
                TIMEOUT,
            )
            .await
            .expect("fail the others");
    }

    // The organisation the recipient's grant names.
    let _: gpes_protocol::Organisation = admin
        .post(
            "/v1/organisations/X26",
            &json!({ "name": "NHS England", "delivery": { "kind": "none" } }),
            TIMEOUT,
        )
        .await
        .expect("organisation");
    // One user per role, each with a token.
    let mut uplinks = BTreeMap::new();
    let base = Uplink::new(
        &coordinator.running.operator_addr.to_string(),
        gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls"),
    )
    .expect("uplink");
    uplinks.insert("anonymous", base.clone());
    uplinks.insert("bootstrap", admin.clone());
    for role in ROLES.iter().skip(2) {
        let id = format!("user-{}", role.to_ascii_lowercase());
        let _: User = admin
            .post(
                "/v1/users",
                &CreateUserRequest {
                    id: id.clone(),
                    name: format!("A {role}"),
                },
                TIMEOUT,
            )
            .await
            .expect("user");
        let scope = match *role {
            "B1842" | "B1843" | "B1844" | "B1845" | "declarer" => Some("A81001"),
            "commissioner" => Some("15N"),
            "recipient" => Some("X26"),
            "supplier" => Some("Acme"),
            _ => None,
        };
        if *role != "nobody" {
            let _: User = admin
                .post(
                    &format!("/v1/users/{id}/grants"),
                    &GrantSpec {
                        role: role.to_string(),
                        scope: scope.map(str::to_owned),
                    },
                    TIMEOUT,
                )
                .await
                .expect("grant");
        }
        let token: CreateUserTokenResponse = admin
            .post(
                &format!("/v1/users/{id}/tokens"),
                &CreateUserTokenRequest {
                    ttl_days: 1,
                    label: None,
                },
                TIMEOUT,
            )
            .await
            .expect("token");
        uplinks.insert(*role, base.clone().with_bearer(&token.secret));
    }
    // Users and a token that the user routes act on.
    for id in ["spare-user", "target-user"] {
        let _: User = admin
            .post(
                "/v1/users",
                &CreateUserRequest {
                    id: id.into(),
                    name: id.into(),
                },
                TIMEOUT,
            )
            .await
            .expect("spare user");
    }
    let spare: CreateUserTokenResponse = admin
        .post(
            "/v1/users/spare-user/tokens",
            &CreateUserTokenRequest {
                ttl_days: 1,
                label: None,
            },
            TIMEOUT,
        )
        .await
        .expect("spare token");
    // Every token has been used once, so their last use is written and
    // the refused calls below write nothing for a minute.
    for (role, up) in &uplinks {
        if *role != "anonymous" {
            let _: Value = up.get("/v1/me", TIMEOUT).await.expect("who am I");
        }
    }
    Fixture {
        coordinator,
        uplinks,
        run,
        spare_run,
        collection,
        agent_c: agent_ids[2].clone(),
        agent_a: agent_ids[0].clone(),
        agent_b: agent_ids[1].clone(),
        agent_a_dir: agent_dirs[0].clone(),
        agent_b_dir: agent_dirs[1].clone(),
        held_job,
        spare_token: spare.token_id,
        draft: draft.id,
        _dirs: dirs,
    }
}

fn operator_cases(f: &Fixture) -> Vec<Case> {
    use Allowed::*;
    let run = &f.run;
    let a_practice = &[
        "B1842",
        "B1843",
        "B1844",
        "B1845",
        "declarer",
        "commissioner",
        "supplier",
    ][..];
    let collection_body = json!({
        "name": "made by a role",
        "query": gpes_tests::registered_count_query(),
        "parameters": { "PPED": "2025-03-31" },
        "schedule": "",
        "practices": ["A81001"],
        "purpose": "planning",
        "data_class": "aggregate",
    });
    vec![
        case(
            "POST",
            "/v1/enroll",
            "/v1/enroll",
            Some(json!({})),
            Everyone,
        ),
        case(
            "GET",
            "/v1/openapi.json",
            "/v1/openapi.json",
            None,
            Everyone,
        ),
        case("GET", "/v1/me", "/v1/me", None, SignedIn),
        case(
            "POST",
            "/v1/me/tokens/{id}/revoke",
            "/v1/me/tokens/no-such-token/revoke",
            None,
            SignedIn,
        ),
        case(
            "POST",
            "/v1/tokens",
            "/v1/tokens",
            Some(json!({ "practices": ["A81001"], "ttl_seconds": 60 })),
            roles(ADMINS),
        ),
        case(
            "GET",
            "/v1/agents",
            "/v1/agents",
            None,
            plus(OPERATORS, &["supplier"]),
        ),
        case(
            "GET",
            "/v1/agents/{id}",
            format!("/v1/agents/{}", f.agent_a),
            None,
            plus(OPERATORS, &["supplier"]),
        ),
        // The supplier of A81001 may not see B82002's agent.
        case(
            "GET",
            "/v1/agents/{id}",
            format!("/v1/agents/{}", f.agent_b),
            None,
            roles(OPERATORS),
        ),
        case(
            "POST",
            "/v1/agents/{id}/revoke",
            format!("/v1/agents/{}/revoke", f.agent_c),
            None,
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/collections",
            "/v1/collections",
            Some(collection_body.clone()),
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/queries",
            "/v1/queries",
            Some(json!({ "source": gpes_tests::registered_count_query() })),
            roles(MANAGERS),
        ),
        case("GET", "/v1/queries", "/v1/queries", None, roles(OPERATORS)),
        case(
            "GET",
            "/v1/queries/{id}",
            "/v1/queries/registered",
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/queries/{id}/{version}",
            "/v1/queries/registered/1",
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/collections",
            "/v1/collections",
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/collections/{id}",
            format!("/v1/collections/{}", f.collection),
            None,
            roles(OPERATORS),
        ),
        case(
            "POST",
            "/v1/collections/{id}/run",
            format!("/v1/collections/{}/run", f.collection),
            None,
            roles(MANAGERS),
        ),
        // A draft's life: activated, paused, retired (the allowed after the
        // first are told the state does not allow it, 409).
        case(
            "POST",
            "/v1/collections/{id}/activate",
            format!("/v1/collections/{}/activate", f.draft),
            None,
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/collections/{id}/pause",
            format!("/v1/collections/{}/pause", f.draft),
            None,
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/collections/{id}/retire",
            format!("/v1/collections/{}/retire", f.draft),
            None,
            roles(MANAGERS),
        ),
        case(
            "GET",
            "/v1/timetable",
            "/v1/timetable",
            None,
            plus(OPERATORS, a_practice),
        ),
        // A dry run (this registry has no test practice: the allowed are
        // told so, 422); deleting a run that is not a dry run (409).
        case(
            "POST",
            "/v1/collections/{id}/dry-run",
            format!("/v1/collections/{}/dry-run", f.collection),
            Some(json!({})),
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/runs/{id}/delete",
            format!("/v1/runs/{run}/delete"),
            None,
            roles(MANAGERS),
        ),
        // An ad-hoc extraction: a practice's B1842 users, for their own.
        case(
            "POST",
            "/v1/collections/{id}/adhoc",
            format!("/v1/collections/{}/adhoc", f.collection),
            Some(json!({ "practice": "A81001" })),
            plus(ADMINS, &["B1842"]),
        ),
        case(
            "POST",
            "/v1/collections/{id}/adhoc",
            format!("/v1/collections/{}/adhoc", f.collection),
            Some(json!({ "practice": "B82002" })),
            roles(ADMINS),
        ),
        // Declarations: a practice's declarers declare (this collection
        // needs none: the allowed are told so, 422); its commissioner
        // decides (no such declaration: 404).
        case(
            "POST",
            "/v1/runs/{id}/declarations",
            format!("/v1/runs/{run}/declarations"),
            Some(
                json!({ "practice": "A81001", "extract_hash": format!("sha256:{}", "0".repeat(64)) }),
            ),
            plus(ADMINS, &["declarer"]),
        ),
        case(
            "POST",
            "/v1/runs/{id}/declarations",
            format!("/v1/runs/{run}/declarations"),
            Some(
                json!({ "practice": "B82002", "extract_hash": format!("sha256:{}", "0".repeat(64)) }),
            ),
            roles(ADMINS),
        ),
        // Payments (this collection has no rule: the allowed are told so).
        case(
            "GET",
            "/v1/runs/{id}/payments",
            format!("/v1/runs/{run}/payments"),
            None,
            plus(OPERATORS, &["B1843", "declarer", "commissioner"]),
        ),
        // Values by hand: a practice's declarers (an agent serves A81001:
        // the allowed are told so, 422).
        case(
            "POST",
            "/v1/runs/{id}/manual",
            format!("/v1/runs/{run}/manual"),
            Some(json!({ "practice": "A81001", "populations": [] })),
            plus(ADMINS, &["declarer"]),
        ),
        case(
            "GET",
            "/v1/runs/{id}/manual",
            format!("/v1/runs/{run}/manual?practice=A81001"),
            None,
            plus(OPERATORS, &["B1843", "declarer", "commissioner"]),
        ),
        case(
            "GET",
            "/v1/declarations",
            "/v1/declarations",
            None,
            plus(OPERATORS, &["B1843", "declarer", "commissioner"]),
        ),
        case(
            "POST",
            "/v1/declarations/{id}/approve",
            "/v1/declarations/no-such/approve",
            None,
            plus(ADMINS, &["commissioner"]),
        ),
        case(
            "POST",
            "/v1/declarations/{id}/reject",
            "/v1/declarations/no-such/reject",
            Some(json!({ "reason": "wrong" })),
            plus(ADMINS, &["commissioner"]),
        ),
        case(
            "GET",
            "/v1/attention",
            "/v1/attention",
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "PUT",
            "/v1/collections/{id}",
            format!("/v1/collections/{}", f.draft),
            Some(collection_body.clone()),
            roles(MANAGERS),
        ),
        case(
            "GET",
            "/v1/collections/{id}/versions",
            format!("/v1/collections/{}/versions", f.collection),
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/organisations",
            "/v1/organisations",
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/organisations/{code}",
            "/v1/organisations/X26",
            None,
            roles(OPERATORS),
        ),
        case(
            "POST",
            "/v1/organisations/{code}",
            "/v1/organisations/X26",
            Some(json!({ "name": "NHS England", "delivery": { "kind": "none" } })),
            roles(ADMINS),
        ),
        // Participation: a practice's people and its region's see its
        // offers and decisions; its B1845 users decide (on this mandatory
        // collection the allowed are told there is nothing to decide, 422);
        // its B1844 users keep preferences.
        case(
            "GET",
            "/v1/offers",
            "/v1/offers?practice=A81001",
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "GET",
            "/v1/offers",
            "/v1/offers?practice=B82002",
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/collections/{id}/decisions",
            format!("/v1/collections/{}/decisions?practice=A81001", f.collection),
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "POST",
            "/v1/collections/{id}/decisions",
            format!("/v1/collections/{}/decisions", f.collection),
            Some(json!({ "practice": "A81001", "decision": "accept" })),
            plus(ADMINS, &["B1845"]),
        ),
        case(
            "POST",
            "/v1/collections/{id}/decisions",
            format!("/v1/collections/{}/decisions", f.collection),
            Some(json!({ "practice": "B82002", "decision": "accept" })),
            roles(ADMINS),
        ),
        case(
            "GET",
            "/v1/practices/{code}/preferences",
            "/v1/practices/A81001/preferences",
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "POST",
            "/v1/practices/{code}/preferences",
            "/v1/practices/A81001/preferences",
            Some(json!({ "decision": "accept", "purpose": "payment" })),
            plus(ADMINS, &["B1844"]),
        ),
        case(
            "POST",
            "/v1/practices/{code}/preferences",
            "/v1/practices/B82002/preferences",
            Some(json!({ "decision": "accept" })),
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/practices/{code}/preferences/{id}/remove",
            "/v1/practices/A81001/preferences/no-such/remove",
            None,
            plus(ADMINS, &["B1844"]),
        ),
        // Calendar feeds: one's own (the bootstrap admin, not a user, is
        // told it has none, 422); a feed's address is its own credential.
        case("GET", "/v1/me/feeds", "/v1/me/feeds", None, SignedIn),
        case(
            "POST",
            "/v1/me/feeds",
            "/v1/me/feeds",
            Some(json!({})),
            SignedIn,
        ),
        case(
            "POST",
            "/v1/me/feeds/{id}/revoke",
            "/v1/me/feeds/no-such/revoke",
            None,
            SignedIn,
        ),
        case(
            "GET",
            "/feeds/{secret}/timetable.ics",
            "/feeds/not-a-feed/timetable.ics",
            None,
            Everyone,
        ),
        case("GET", "/v1/runs", "/v1/runs", None, roles(OPERATORS)),
        case(
            "GET",
            "/v1/runs/{id}",
            format!("/v1/runs/{run}"),
            None,
            roles(OPERATORS),
        ),
        // All results: operators only; a practice's: its B1843 users and
        // its region's commissioner too; another practice's: not them.
        case(
            "GET",
            "/v1/runs/{id}/results",
            format!("/v1/runs/{run}/results"),
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/runs/{id}/results",
            format!("/v1/runs/{run}/results?practice=A81001"),
            None,
            plus(OPERATORS, &["B1843", "commissioner"]),
        ),
        case(
            "GET",
            "/v1/runs/{id}/results",
            format!("/v1/runs/{run}/results?practice=B82002"),
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/runs/{id}/view",
            format!("/v1/runs/{run}/view?practice=A81001"),
            None,
            plus(OPERATORS, &["B1843", "commissioner"]),
        ),
        case(
            "GET",
            "/v1/runs/{id}/view",
            format!("/v1/runs/{run}/view?practice=B82002"),
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/runs/{id}/export",
            format!("/v1/runs/{run}/export?format=json"),
            None,
            roles(OPERATORS),
        ),
        case(
            "GET",
            "/v1/runs/{id}/export",
            format!("/v1/runs/{run}/export?practice=A81001"),
            None,
            plus(OPERATORS, &["B1843", "commissioner"]),
        ),
        case(
            "GET",
            "/v1/runs/{id}/export",
            format!("/v1/runs/{run}/export?practice=B82002"),
            None,
            roles(OPERATORS),
        ),
        // Record-level answers: managers, and a practice's B1843 users for
        // their own practice only (this run gave counts: the allowed are
        // told so, 409).
        case(
            "GET",
            "/v1/runs/{id}/records",
            format!("/v1/runs/{run}/records?practice=A81001"),
            None,
            plus(MANAGERS, &["B1843"]),
        ),
        case(
            "GET",
            "/v1/runs/{id}/records",
            format!("/v1/runs/{run}/records?practice=B82002"),
            None,
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/runs/{id}/cancel",
            format!("/v1/runs/{}/cancel", f.spare_run),
            None,
            roles(MANAGERS),
        ),
        case(
            "POST",
            "/v1/runs/{id}/retry",
            format!("/v1/runs/{}/retry", f.spare_run),
            None,
            roles(MANAGERS),
        ),
        case(
            "GET",
            "/v1/practices",
            "/v1/practices",
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "GET",
            "/v1/practices/{code}",
            "/v1/practices/A81001",
            None,
            plus(OPERATORS, a_practice),
        ),
        case(
            "GET",
            "/v1/practices/{code}",
            "/v1/practices/B82002",
            None,
            roles(OPERATORS),
        ),
        case(
            "POST",
            "/v1/practices/import",
            "/v1/practices/import",
            Some(json!({ "practices": [], "successors": [] })),
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/practices/{code}",
            "/v1/practices/A81001",
            Some(json!({ "supplier": "Acme" })),
            roles(ADMINS),
        ),
        case("GET", "/v1/audit", "/v1/audit", None, roles(ADMINS)),
        case(
            "GET",
            "/v1/audit/verify",
            "/v1/audit/verify",
            None,
            roles(ADMINS),
        ),
        case("GET", "/v1/users", "/v1/users", None, roles(ADMINS)),
        case(
            "POST",
            "/v1/users",
            "/v1/users",
            Some(json!({ "id": "newcomer", "name": "New Comer" })),
            roles(ADMINS),
        ),
        case(
            "GET",
            "/v1/users/{id}",
            "/v1/users/target-user",
            None,
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/users/{id}/grants",
            "/v1/users/target-user/grants",
            Some(json!({ "role": "viewer" })),
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/users/{id}/grants/remove",
            "/v1/users/target-user/grants/remove",
            Some(json!({ "role": "viewer" })),
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/users/{id}/tokens",
            "/v1/users/target-user/tokens",
            Some(json!({ "ttl_days": 1 })),
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/users/{id}/disable",
            "/v1/users/spare-user/disable",
            None,
            roles(ADMINS),
        ),
        case(
            "POST",
            "/v1/user-tokens/{id}/revoke",
            format!("/v1/user-tokens/{}/revoke", f.spare_token),
            None,
            roles(ADMINS),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_with_every_role_is_allowed_or_refused_as_the_table_says() {
    let f = fixture().await;
    let cases = operator_cases(&f);

    // Every route of the router has a row; every row is a route.
    let routed = routed("operator");
    let rows: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.route.to_owned(), c.method.to_ascii_lowercase()))
        .collect();
    let missing: Vec<_> = routed.difference(&rows).collect();
    let extra: Vec<_> = rows.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a row: {missing:?}; rows without a route: {extra:?}"
    );

    let mut checked = 0;
    for c in &cases {
        let allowed = |role: &str| match &c.allowed {
            Allowed::Everyone => true,
            Allowed::SignedIn => role != "anonymous",
            Allowed::Roles(list) => list.contains(&role),
        };
        // The refused first, so that what the allowed calls change (a
        // revoked agent, a cancelled run) cannot hide a refusal.
        let mut order: Vec<&str> = ROLES.iter().copied().filter(|r| !allowed(r)).collect();
        order.extend(ROLES.iter().copied().filter(|r| allowed(r)));
        let mut everyone = BTreeSet::new();
        for role in order {
            let up = &f.uplinks[role];
            let before = f.coordinator.snapshot().await;
            let status = status_of(up, c.method, &c.path, c.body.as_ref()).await;
            let what = format!("{role}: {} {} -> {status}", c.method, c.path);
            if matches!(c.allowed, Allowed::Everyone) {
                // Open routes answer on their own terms (enrollment checks
                // its own secret), the same to everyone.
                assert!(status < 500, "failed: {what}");
                everyone.insert(status);
            } else if allowed(role) {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "allowed but refused or failed: {what}"
                );
            } else {
                let expected = if role == "anonymous" { 401 } else { 403 };
                assert_eq!(status, expected, "not refused as it should be: {what}");
                let after = f.coordinator.snapshot().await;
                assert!(before == after, "a refused call changed the state: {what}");
            }
            checked += 1;
        }
        assert!(
            everyone.len() <= 1,
            "{} {}: an open route answered roles differently: {everyone:?}",
            c.method,
            c.path
        );
    }
    assert_eq!(checked, cases.len() * ROLES.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_may_neither_take_nor_answer_for_another_agents_jobs() {
    let f = fixture().await;
    let agent_a = agent_uplink(&f.coordinator, &f.agent_a_dir);
    let agent_b = agent_uplink(&f.coordinator, &f.agent_b_dir);
    let job = &f.held_job;
    let upload = serde_json::to_value(upload_for(job, 100)).expect("json");
    let failure = json!({ "job_id": job.job_id, "reason": "not mine", "retryable": false });
    let poll_a = json!({ "practices": ["A81001"], "wait_ms": 0 });
    // (route, what agent B tries, its body)
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "/v1/jobs/poll",
            "a poll for another agent's practice",
            poll_a,
        ),
        (
            "/v1/results",
            "a result for another agent's job",
            upload.clone(),
        ),
        ("/v1/failures", "a failure of another agent's job", failure),
    ];
    let routed = routed("agent");
    let rows: BTreeSet<(String, String)> = cases
        .iter()
        .map(|(route, _, _)| (route.to_string(), "post".to_string()))
        .collect();
    assert_eq!(routed, rows, "every agent route has a row");
    for (route, what, body) in &cases {
        let before = f.coordinator.snapshot().await;
        let status = status_of(&agent_b, "POST", route, Some(body)).await;
        assert_eq!(status, 403, "agent B sent {what} to {route}");
        let after = f.coordinator.snapshot().await;
        assert!(before == after, "agent B's {what} changed the state");
    }
    // The agent holding the job is answered.
    assert_eq!(
        status_of(&agent_a, "POST", "/v1/results", Some(&upload)).await,
        200
    );
    let stored = f.coordinator.stored(&job.job_id).await.expect("stored");
    assert_eq!(stored.0, f.agent_a);
}
