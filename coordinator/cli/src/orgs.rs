//! `gpesctl org ...`: requesting organisations and where their results
//! are delivered.

use crate::TIMEOUT;
use anyhow::bail;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{DeliveryTarget, Organisation, OrganisationSetRequest};

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Add or change a requesting organisation (admins).
    Set {
        /// Its ODS code.
        code: String,
        #[arg(long)]
        name: String,
        /// Deliver into this folder on the coordinator's host.
        #[arg(long, conflicts_with_all = ["mesh_mailbox", "mesh_workflow"])]
        folder: Option<String>,
        /// Deliver to this MESH mailbox (with --mesh-workflow).
        #[arg(long, requires = "mesh_workflow")]
        mesh_mailbox: Option<String>,
        /// The MESH workflow id the messages carry.
        #[arg(long, requires = "mesh_mailbox")]
        mesh_workflow: Option<String>,
    },
    /// Every requesting organisation.
    List,
    /// One organisation.
    Show { code: String },
}

fn describe(d: &DeliveryTarget) -> String {
    match d {
        DeliveryTarget::None => "not delivered (downloaded)".into(),
        DeliveryTarget::Folder { path } => format!("folder {path}"),
        DeliveryTarget::Mesh {
            mailbox,
            workflow_id,
        } => format!("MESH mailbox {mailbox}, workflow {workflow_id}"),
    }
}

pub async fn run(up: &Uplink, json: bool, command: &OrgCommand) -> anyhow::Result<()> {
    let shown: Vec<Organisation> = match command {
        OrgCommand::Set {
            code,
            name,
            folder,
            mesh_mailbox,
            mesh_workflow,
        } => {
            let delivery = match (folder, mesh_mailbox, mesh_workflow) {
                (Some(path), None, None) => DeliveryTarget::Folder { path: path.clone() },
                (None, Some(mailbox), Some(workflow_id)) => DeliveryTarget::Mesh {
                    mailbox: mailbox.clone(),
                    workflow_id: workflow_id.clone(),
                },
                (None, None, None) => DeliveryTarget::None,
                _ => bail!("give --folder, or --mesh-mailbox with --mesh-workflow, or neither"),
            };
            vec![
                up.post(
                    &format!("/v1/organisations/{}", crate::encode(code)),
                    &OrganisationSetRequest {
                        name: name.clone(),
                        delivery,
                    },
                    TIMEOUT,
                )
                .await?,
            ]
        }
        OrgCommand::List => up.get("/v1/organisations", TIMEOUT).await?,
        OrgCommand::Show { code } => vec![
            up.get(
                &format!("/v1/organisations/{}", crate::encode(code)),
                TIMEOUT,
            )
            .await?,
        ],
    };
    if json {
        match command {
            OrgCommand::List => println!("{}", serde_json::to_string_pretty(&shown)?),
            _ => println!("{}", serde_json::to_string_pretty(&shown[0])?),
        }
        return Ok(());
    }
    println!("{:<10} {:<40} delivery", "code", "name");
    for o in shown {
        println!("{:<10} {:<40} {}", o.code, o.name, describe(&o.delivery));
    }
    Ok(())
}
