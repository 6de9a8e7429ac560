//! Every refusal of the issue, each leaving the coordinator's store as it
//! was.

use crate::support::*;
use gpes_client::Uplink;
use gpes_protocol::{EnrollRequest, EnrollResponse, PollRequest, PollResponse, Receipt};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_or_expired_token_is_refused() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    enroll_only(&dir.path().join("first"), &token.token).await;

    let before = coordinator.snapshot().await;
    let err = gpes_agent::identity::enroll(&dir.path().join("second"), &token.token)
        .await
        .expect_err("a used token is refused");
    assert!(format!("{err:#}").contains("already used"), "{err:#}");
    assert_eq!(coordinator.snapshot().await, before);

    // A token that has expired, presented straight to the coordinator (the
    // agent itself would not even send it).
    // The shortest lifetime the coordinator grants, then waited out.
    let expired = coordinator.token(&["B82002"], 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let decoded = gpes_pki::EnrollmentToken::decode(&expired.token).expect("token");
    let before = coordinator.snapshot().await;
    let pinned = gpes_pki::pinned_client_config(decoded.ca_pin().expect("pin")).expect("tls");
    let uplink = Uplink::new(&decoded.coordinator, pinned)
        .expect("uplink")
        .with_bearer(&decoded.secret);
    let key = gpes_pki::AgentKey::generate().expect("key");
    let err = uplink
        .post::<_, EnrollResponse>(
            "/v1/enroll",
            &EnrollRequest {
                secret: decoded.secret.clone(),
                csr_pem: key.csr_pem("x").expect("csr"),
            },
            TIMEOUT,
        )
        .await
        .expect_err("an expired token is refused");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);
    let err = gpes_agent::identity::enroll(&dir.path().join("third"), &expired.token)
        .await
        .expect_err("the agent refuses an expired token itself");
    assert!(format!("{err:#}").contains("expired"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_refuses_to_send_its_csr_to_a_coordinator_the_token_does_not_pin() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let mut forged = gpes_pki::EnrollmentToken::decode(&token.token).expect("token");
    let other_ca = gpes_pki::CertificateAuthority::create("another CA").expect("ca");
    forged.ca_spki_sha256 = other_ca.spki_sha256_hex();
    let before = coordinator.snapshot().await;
    let err = gpes_agent::identity::enroll(&dir.path().join("a"), &forged.encode())
        .await
        .expect_err("the pin does not match");
    assert!(
        format!("{err:#}").contains("does not match the token's pin"),
        "{err:#}"
    );
    assert_eq!(
        coordinator.snapshot().await,
        before,
        "no CSR reached the coordinator"
    );
    // The real token was never used, so it still works.
    enroll_only(&dir.path().join("b"), &token.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_without_a_certificate_of_the_coordinators_ca_are_refused() {
    let coordinator = Coordinator::start().await;
    let before = coordinator.snapshot().await;
    let address = coordinator.running.agent_addr.to_string();
    let poll = PollRequest {
        practices: vec![],
        wait_ms: 0,
        ..Default::default()
    };

    // No client certificate at all.
    let no_cert = gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls");
    let err = Uplink::new(&address, no_cert)
        .expect("uplink")
        .post::<_, PollResponse>("/v1/jobs/poll", &poll, TIMEOUT)
        .await
        .expect_err("refused");
    assert!(
        err.is_transient(),
        "refused at the connection, not by HTTP: {err}"
    );
    assert!(
        !err.to_string().contains("refused ("),
        "no HTTP answer: {err}"
    );

    // A certificate from another CA, for a well-formed agent id.
    let other = gpes_pki::CertificateAuthority::create("another CA").expect("ca");
    let key = gpes_pki::AgentKey::generate().expect("key");
    let cert = other
        .sign_agent_csr(&key.csr_pem("agent-x").expect("csr"), "agent-x", 30)
        .expect("cert");
    let foreign =
        gpes_pki::agent_client_config(&coordinator.running.ca_pem, &cert.cert_pem, &key.key_pem())
            .expect("tls");
    let err = Uplink::new(&address, foreign)
        .expect("uplink")
        .post::<_, PollResponse>("/v1/jobs/poll", &poll, TIMEOUT)
        .await
        .expect_err("refused");
    assert!(
        err.is_transient(),
        "refused at the connection, not by HTTP: {err}"
    );
    assert_eq!(coordinator.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_may_not_take_other_practices_jobs_or_return_jobs_they_do_not_hold() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let t1 = coordinator.token(&["A81001"], 600).await;
    let t2 = coordinator.token(&["B82002"], 600).await;
    let a1 = agent_uplink(
        &coordinator,
        &enroll_only(&dir.path().join("a1"), &t1.token).await,
    );
    let a2 = agent_uplink(
        &coordinator,
        &enroll_only(&dir.path().join("a2"), &t2.token).await,
    );
    let collection = coordinator
        .create_collection(&["A81001", "B82002"], "")
        .await
        .expect("collection");
    coordinator.run_now(&collection.id).await;

    let before = coordinator.snapshot().await;
    let err = a1
        .post::<_, PollResponse>(
            "/v1/jobs/poll",
            &PollRequest {
                practices: vec!["B82002".into()],
                wait_ms: 0,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect_err("not its practice");
    assert!(err.to_string().contains("403"), "{err}");
    assert!(
        err.to_string().contains("does not serve practice 'B82002'"),
        "{err}"
    );
    assert_eq!(coordinator.snapshot().await, before);

    // a1 takes its own job; a2 tries to return it.
    let polled: PollResponse = a1
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                practices: vec![],
                wait_ms: 5_000,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    let job = &polled.jobs[0];
    assert_eq!(job.practice, "A81001");
    let upload = upload_for(job, 1);
    let before = coordinator.snapshot().await;
    let err = a2
        .post::<_, Receipt>("/v1/results", &upload, TIMEOUT)
        .await
        .expect_err("not its job");
    assert!(err.to_string().contains("is not held by agent"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_cron_expression_is_refused_naming_the_field() {
    let coordinator = Coordinator::start().await;
    let before = coordinator.snapshot().await;
    for (expr, field) in [
        ("61 * * * *", "minute"),
        ("0 9 * * 8", "day-of-week"),
        ("0 9 * *", "five"),
        ("0 6 31 2 *", "never fires"),
    ] {
        let err = coordinator
            .create_collection(&["A81001"], expr)
            .await
            .expect_err("invalid schedule");
        let msg = err.to_string();
        assert!(msg.contains("422") && msg.contains(field), "{expr}: {msg}");
    }
    assert_eq!(coordinator.snapshot().await, before);
}

#[test]
fn a_config_typo_stops_both_programs_with_the_key_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let coordinator_config = dir.path().join("coordinator.toml");
    std::fs::write(
        &coordinator_config,
        format!(
            "data_dir = \"{}\"\nleas_seconds = 5\n",
            dir.path().join("c").display()
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-coordinator"))
        .args(["--config".as_ref(), coordinator_config.as_os_str()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("leas_seconds"), "{stderr}");
    assert!(!dir.path().join("c").exists(), "nothing was created");

    let agent_config = dir.path().join("agent.toml");
    std::fs::write(
        &agent_config,
        format!(
            "data_dir = \"{}\"\n[limits]\npoll_secs = 5\n",
            dir.path().join("a").display()
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .args([
            "--config".as_ref(),
            agent_config.as_os_str(),
            "run".as_ref(),
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("poll_secs"), "{stderr}");
    assert!(!dir.path().join("a").exists(), "nothing was created");
}

#[test]
fn the_example_configurations_in_deploy_are_valid() {
    let deploy = gpes_tests::workspace().join("deploy");
    let c = gpes_coordinator::Config::load(&deploy.join("coordinator.toml")).expect("valid");
    assert_eq!(c.lease_seconds, 900);
    let a = gpes_agent::Config::load(&deploy.join("agent.toml")).expect("valid");
    assert_eq!(a.practices.len(), 1);
    assert_eq!(a.trusted_suppliers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_say_its_protocol_version_is_told_so() {
    use http_body_util::{BodyExt, Full};
    let coordinator = Coordinator::start().await;
    let tls = gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls");
    let tcp = tokio::net::TcpStream::connect(coordinator.running.operator_addr)
        .await
        .expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .expect("handshake");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("http");
    tokio::spawn(conn);
    for (header, expected) in [
        (None, "did not say"),
        (Some("99"), "newer than this side's"),
    ] {
        let mut req = http::Request::builder().method("GET").uri("/v1/runs");
        if let Some(v) = header {
            req = req.header(gpes_protocol::VERSION_HEADER, v);
        }
        sender.ready().await.expect("connection ready");
        let resp = sender
            .send_request(req.body(Full::new(bytes::Bytes::new())).expect("request"))
            .await
            .expect("answer");
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.headers()[gpes_protocol::VERSION_HEADER],
            gpes_protocol::PROTOCOL_VERSION.to_string().as_str(),
            "the answer says which version the coordinator speaks"
        );
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let body: gpes_protocol::Problem = serde_json::from_slice(&body).expect("problem body");
        assert_eq!(body.code, gpes_protocol::ErrorCode::VersionMismatch);
        assert_eq!(body.status, 400);
        assert!(body.detail.contains(expected), "{}", body.detail);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_configured_only_for_practices_it_was_not_enrolled_for_does_not_start() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let text = gpes_tests::agent_config(
        &data_dir,
        &[("B82002", gpes_tests::practice_data("B82002"))],
        2,
    );
    let config =
        gpes_agent::Config::parse(&text, std::path::Path::new("agent.toml")).expect("config");
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let runner = gpes_agent::runner::Runner::new(&config)
        .await
        .expect("plugins verify");
    let err =
        gpes_agent::daemon::Daemon::new(config, identity, runner).expect_err("nothing to serve");
    assert!(err.to_string().contains("enrolled for (A81001)"), "{err}");
}

/// Every file under `dir` with its contents, for before-and-after checks.
fn tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_refuses_to_start_with_an_unsigned_tampered_or_untrusted_plugin() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let supplier = gpes_tests::test_supplier();
    let trusted = gpes_tests::trusted_supplier_toml(&supplier.key.public_key());
    let wasm = std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("guest was built");

    // Each case: the plugin's bytes, its manifest (if any), and what the
    // refusal must say.
    let mut tampered = wasm.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    let (stranger, _) = gpes_sign::SigningKey::generate().expect("key");
    let by_stranger = supplier
        .signed_csv_export
        .manifest
        .clone()
        .sign(&stranger)
        .expect("sign");
    let cases = [
        ("unsigned", &wasm, None, "a site runs only signed plugins"),
        (
            "tampered",
            &tampered,
            Some(&supplier.signed_csv_export),
            "not the one the supplier signed",
        ),
        (
            "untrusted",
            &wasm,
            Some(&by_stranger),
            "which this site does not trust for supplier",
        ),
    ];
    for (case, bytes, manifest, says) in cases {
        let plugins = dir.path().join(case);
        std::fs::create_dir_all(&plugins).expect("mkdir");
        let plugin = plugins.join("csv-export.wasm");
        std::fs::write(&plugin, bytes).expect("write");
        if let Some(m) = manifest {
            // At the default place, beside the plugin.
            m.write(&gpes_sign::default_manifest_path(&plugin))
                .expect("write");
        }
        let config = plugins.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n{trusted}[[practice]]\ncode = \"A81001\"\nplugin = \"{}\"\ndata = \"{}\"\n",
                data_dir.display(),
                plugin.display(),
                gpes_tests::practice_data("A81001").display()
            ),
        )
        .expect("write");

        let before = (coordinator.snapshot().await, tree(&data_dir));
        let out = Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
            .args(["--config".as_ref(), config.as_os_str(), "run".as_ref()])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(says), "{case}: {stderr}");
        assert!(stderr.contains("practice A81001"), "{case}: {stderr}");
        assert_eq!(
            (coordinator.snapshot().await, tree(&data_dir)),
            before,
            "{case}: nothing created or changed"
        );
        assert!(!data_dir.join("buffer").exists(), "{case}: no buffer");
    }

    // The same configuration with the plugin properly signed passes the
    // check the agent makes at start.
    let plugins = dir.path().join("signed");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    let plugin = plugins.join("csv-export.wasm");
    std::fs::write(&plugin, &wasm).expect("write");
    supplier
        .signed_csv_export
        .write(&gpes_sign::default_manifest_path(&plugin))
        .expect("write");
    let config = plugins.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n{trusted}[[practice]]\ncode = \"A81001\"\nplugin = \"{}\"\ndata = \"{}\"\n",
            data_dir.display(),
            plugin.display(),
            gpes_tests::practice_data("A81001").display()
        ),
    )
    .expect("write");
    let text = std::fs::read_to_string(&config).expect("read");
    let parsed = gpes_agent::Config::parse(&text, &config).expect("valid");
    gpes_agent::runner::Runner::new(&parsed)
        .await
        .expect("the signed plugin verifies");
}
