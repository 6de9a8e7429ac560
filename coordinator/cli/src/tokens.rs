//! `gpesctl token ...`: one-time enrollment tokens for agents.

use crate::TIMEOUT;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{CreateTokenRequest, CreateTokenResponse};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a new agent serving the given practices.
    Create {
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
        /// Validity in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

pub async fn run(up: &Uplink, json: bool, command: &TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create { practices, ttl } = command;
    let r: CreateTokenResponse = up
        .post(
            "/v1/tokens",
            &CreateTokenRequest {
                practices: practices.clone(),
                ttl_seconds: *ttl,
            },
            TIMEOUT,
        )
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", r.token);
    }
    Ok(())
}
