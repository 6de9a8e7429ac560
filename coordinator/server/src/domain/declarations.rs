//! Declarations: which moves a declaration may make, and who decides.

use super::Refusal;
use gpes_protocol::DeclarationState;

/// Whether a declaration in state `from` may be approved or rejected: only
/// a declared one waits for a decision.
pub fn decide(id: &str, from: DeclarationState) -> Result<(), Refusal> {
    match from {
        DeclarationState::Declared => Ok(()),
        other => Err(Refusal::Exists(format!(
            "declaration '{id}' is {}: only a declared result waits for a decision",
            name(other)
        ))),
    }
}

/// A practice may declare a run's result unless a declaration of it is
/// in force (declared or approved): a rejected or re-opened one is
/// declared again.
pub fn may_declare(existing: Option<(&str, DeclarationState)>) -> Result<(), Refusal> {
    match existing {
        Some((id, s @ (DeclarationState::Declared | DeclarationState::Approved))) => {
            Err(Refusal::Exists(format!(
                "the practice's result is already {} (declaration '{id}')",
                name(s)
            )))
        }
        _ => Ok(()),
    }
}

pub fn name(s: DeclarationState) -> &'static str {
    match s {
        DeclarationState::Declared => "declared",
        DeclarationState::Approved => "approved",
        DeclarationState::Rejected => "rejected",
        DeclarationState::Reopened => "reopened",
    }
}

pub fn parse(s: &str) -> Result<DeclarationState, Refusal> {
    Ok(match s {
        "declared" => DeclarationState::Declared,
        "approved" => DeclarationState::Approved,
        "rejected" => DeclarationState::Rejected,
        "reopened" => DeclarationState::Reopened,
        other => {
            return Err(Refusal::Store(format!(
                "unknown declaration state '{other}'"
            )));
        }
    })
}

/// A rejection's reason: needed, one line, at most 500 characters.
pub fn check_reason(reason: &str) -> Result<String, Refusal> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(Refusal::Invalid(
            "a rejection needs a reason: 1 to 500 printable characters on one line".into(),
        ));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_declared_result_is_decided_and_only_an_open_one_declared_again() {
        assert!(decide("d", DeclarationState::Declared).is_ok());
        for s in [
            DeclarationState::Approved,
            DeclarationState::Rejected,
            DeclarationState::Reopened,
        ] {
            assert!(decide("d", s).is_err());
            assert_eq!(parse(name(s)).expect("reads back"), s);
        }
        assert!(may_declare(None).is_ok());
        assert!(may_declare(Some(("d", DeclarationState::Rejected))).is_ok());
        assert!(may_declare(Some(("d", DeclarationState::Reopened))).is_ok());
        assert!(may_declare(Some(("d", DeclarationState::Approved))).is_err());
        assert!(check_reason("  ").is_err());
    }
}
