//! Requesting organisations: who asks for collections, and where their
//! results are delivered.

use super::Refusal;
use gpes_protocol::{DeliveryTarget, OrganisationSetRequest};

/// Checks an organisation's code (an ODS code, upper-cased) and what is
/// set on it: a name; a folder that is an absolute path; a MESH mailbox
/// id (letters and digits) and a workflow id (letters, digits, `_` and
/// `-`).
pub fn check(
    code: &str,
    request: &OrganisationSetRequest,
) -> Result<(String, OrganisationSetRequest), Refusal> {
    let code = code.trim();
    if !(3..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Refusal::Invalid(format!(
            "'{code}' is not an organisation's code: 3 to 10 letters and digits (an ODS code)"
        )));
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Refusal::Invalid(
            "an organisation needs a name: 1 to 200 printable characters".into(),
        ));
    }
    let delivery = match &request.delivery {
        DeliveryTarget::None => DeliveryTarget::None,
        DeliveryTarget::Folder { path } => {
            let path = path.trim();
            if !path.starts_with('/') || path.chars().any(char::is_control) || path.contains("/../")
            {
                return Err(Refusal::Invalid(format!(
                    "the delivery folder must be an absolute path on the coordinator's host, not '{path}'"
                )));
            }
            DeliveryTarget::Folder {
                path: path.to_owned(),
            }
        }
        DeliveryTarget::Mesh {
            mailbox,
            workflow_id,
        } => {
            let mailbox = mailbox.trim().to_ascii_uppercase();
            if !(3..=20).contains(&mailbox.len())
                || !mailbox.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(Refusal::Invalid(format!(
                    "'{mailbox}' is not a MESH mailbox id: 3 to 20 letters and digits"
                )));
            }
            let workflow_id = workflow_id.trim();
            if !(1..=64).contains(&workflow_id.len())
                || !workflow_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(Refusal::Invalid(format!(
                    "'{workflow_id}' is not a MESH workflow id: 1 to 64 letters, digits, '_' and '-'"
                )));
            }
            DeliveryTarget::Mesh {
                mailbox,
                workflow_id: workflow_id.to_owned(),
            }
        }
    };
    Ok((
        code.to_ascii_uppercase(),
        OrganisationSetRequest {
            name: name.to_owned(),
            delivery,
        },
    ))
}
