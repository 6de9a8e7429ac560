//! The agent's identity on disk: its key (made here, mode 0600), the
//! certificate the coordinator issued, the CA it trusts, and what enrollment
//! told it. Enrollment trusts exactly the CA the token pins.

use anyhow::{Context, bail};
use gpes_client::Uplink;
use gpes_pki::{AgentKey, EnrollmentToken};
use gpes_protocol::{EnrollRequest, EnrollResponse};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const KEY_FILE: &str = "agent.key";
const CERT_FILE: &str = "agent.pem";
const CA_FILE: &str = "ca.pem";
const IDENTITY_FILE: &str = "identity.json";

/// What enrollment told the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub agent_id: String,
    pub agent_api: String,
    pub practices: Vec<String>,
}

#[derive(Debug)]
pub struct Identity {
    pub enrollment: Enrollment,
    pub tls: Arc<rustls::ClientConfig>,
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("identity")
}

/// Writes a file atomically (temporary file, fsync, rename).
fn write_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Enrolls with a token: makes a key here, sends a CSR to the coordinator
/// the token names (trusting only the CA it pins), and saves what comes
/// back. Refuses to enroll twice into the same data directory.
pub async fn enroll(data_dir: &Path, token: &str) -> anyhow::Result<Enrollment> {
    let dir = dir(data_dir);
    if dir.join(IDENTITY_FILE).exists() {
        bail!(
            "{} already holds an enrolled identity; use a new data directory to enroll again",
            dir.display()
        );
    }
    let token = EnrollmentToken::decode(token).context("the enrollment token is not valid")?;
    token
        .check_not_expired(now_unix())
        .context("the enrollment token cannot be used")?;
    let pinned = gpes_pki::pinned_client_config(token.ca_pin()?)?;
    // The secret goes in the header too: the coordinator checks it there
    // before it reads any body.
    let uplink = Uplink::new(&token.coordinator, pinned)
        .map_err(anyhow::Error::msg)?
        .with_bearer(&token.secret);
    let key = AgentKey::generate()?;
    let csr_pem = key.csr_pem("gpes-agent")?;
    let response: EnrollResponse = uplink
        .post(
            "/v1/enroll",
            &EnrollRequest {
                secret: token.secret.clone(),
                csr_pem,
            },
            Duration::from_secs(30),
        )
        .await
        .context("enrollment failed")?;
    token
        .verify_ca_pem(&response.ca_pem)
        .context("the coordinator sent a CA that is not the one the token pins")?;
    if !key.matches_cert(&response.certificate_pem)? {
        bail!("the coordinator's certificate is not for the key made here");
    }
    std::fs::create_dir_all(&dir)?;
    key.save(&dir.join(KEY_FILE))?;
    write_file(&dir.join(CERT_FILE), response.certificate_pem.as_bytes())?;
    write_file(&dir.join(CA_FILE), response.ca_pem.as_bytes())?;
    let enrollment = Enrollment {
        agent_id: response.agent_id,
        agent_api: response.agent_api,
        practices: response.practices,
    };
    // Written last: its presence means the identity is whole.
    write_file(
        &dir.join(IDENTITY_FILE),
        &serde_json::to_vec_pretty(&enrollment)?,
    )?;
    Ok(enrollment)
}

/// Loads the identity saved by [`enroll`].
pub fn load(data_dir: &Path) -> anyhow::Result<Identity> {
    let dir = dir(data_dir);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).with_context(|| {
            format!(
                "could not read {}; has this agent been enrolled (gpes-agent enroll)?",
                dir.join(name).display()
            )
        })
    };
    let enrollment: Enrollment = serde_json::from_str(&read(IDENTITY_FILE)?)?;
    let key = AgentKey::load(&dir.join(KEY_FILE))?;
    let tls = gpes_pki::agent_client_config(&read(CA_FILE)?, &read(CERT_FILE)?, &key.key_pem())?;
    Ok(Identity { enrollment, tls })
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
