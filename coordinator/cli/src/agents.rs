//! `gpesctl agent ...`: enrolled agents, what they report, revocation.

use crate::{TIMEOUT, all_pages, encode, when};
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{AgentInfo, RevokeResponse};

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Every enrolled agent: when it was last seen, its version, its
    /// practices.
    List,
    /// One agent, and per practice its plugin, buffer depth and last error.
    Show { id: String },
    /// Refuse the agent from now on (at the TLS handshake) and hand the
    /// jobs it holds to others. Cannot be undone: enroll it again.
    Revoke { id: String },
}

pub async fn run(up: &Uplink, json: bool, command: &AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::List => {
            let agents: Vec<AgentInfo> = all_pages(up, "/v1/agents", u32::MAX).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&agents)?);
            } else {
                print_agents(&agents);
            }
        }
        AgentCommand::Show { id } => {
            let agent: AgentInfo = up
                .get(&format!("/v1/agents/{}", encode(id)), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&agent)?);
            } else {
                print_agent(&agent);
            }
        }
        AgentCommand::Revoke { id } => {
            let r: RevokeResponse = up
                .post(&format!("/v1/agents/{}/revoke", encode(id)), &(), TIMEOUT)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "revoked {} at {}; {} held job(s) handed back",
                    r.agent.agent_id,
                    when(r.agent.revoked_ms),
                    r.jobs_released
                );
            }
        }
    }
    Ok(())
}

fn print_agents(agents: &[AgentInfo]) {
    println!(
        "{:<40} {:<9} {:<23} {:<9} practices",
        "agent", "status", "last seen", "version"
    );
    for a in agents {
        let practices: Vec<&str> = a.practices.iter().map(|p| p.practice.as_str()).collect();
        println!(
            "{:<40} {:<9} {:<23} {:<9} {}",
            a.agent_id,
            if a.revoked_ms.is_some() {
                "revoked"
            } else {
                "active"
            },
            when(a.last_seen_ms),
            a.agent_version.as_deref().unwrap_or("-"),
            practices.join(",")
        );
    }
}

fn print_agent(a: &AgentInfo) {
    println!("agent      {}", a.agent_id);
    println!("enrolled   {}", when(Some(a.enrolled_ms)));
    if a.revoked_ms.is_some() {
        println!("revoked    {}", when(a.revoked_ms));
    }
    println!("last seen  {}", when(a.last_seen_ms));
    println!("version    {}", a.agent_version.as_deref().unwrap_or("-"));
    println!(
        "protocol   {}",
        a.protocol_version.map_or("-".to_owned(), |v| v.to_string())
    );
    println!(
        "{:<10} {:<28} {:>7}  last error",
        "practice", "plugin", "buffer"
    );
    for p in &a.practices {
        let plugin = match (&p.plugin_name, &p.plugin_version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            _ => "-".to_owned(),
        };
        println!(
            "{:<10} {:<28} {:>7}  {}",
            p.practice,
            plugin,
            p.buffer_depth.map_or("-".to_owned(), |d| d.to_string()),
            p.last_error.as_deref().unwrap_or("")
        );
    }
}
