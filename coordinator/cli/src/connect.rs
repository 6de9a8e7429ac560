//! Where the coordinator is and who is asking: flags, the environment or
//! a config file, made into an uplink.

use crate::Args;
use anyhow::Context;
use gpes_client::Uplink;
use std::path::PathBuf;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    address: Option<String>,
    ca: Option<PathBuf>,
    token_file: Option<PathBuf>,
}

pub fn uplink(args: &Args) -> anyhow::Result<Uplink> {
    let file: FileConfig = match &args.config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{} is not a valid gpesctl config", p.display()))?,
        None => FileConfig::default(),
    };
    let address = args
        .address
        .clone()
        .or(file.address)
        .context("say where the coordinator is: --address, GPESCTL_ADDRESS or a config file")?;
    let ca = args
        .ca
        .clone()
        .or(file.ca)
        .context("give the coordinator's CA certificate: --ca, GPESCTL_CA or a config file")?;
    let token_file = args
        .token_file
        .clone()
        .or(file.token_file)
        .context("give the token file: --token-file, GPESCTL_TOKEN_FILE or a config file")?;
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    let tls = gpes_pki::operator_client_config(&ca_pem)?;
    Ok(Uplink::new(&address, tls)
        .map_err(anyhow::Error::msg)?
        .with_bearer(token.trim()))
}
