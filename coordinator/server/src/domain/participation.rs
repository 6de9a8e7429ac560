//! Whether a practice takes part in a run: mandatory collections take
//! every targeted practice; for an offered one, the practice's latest
//! decision on the collection is in force, else its most specific
//! standing preference that matches the collection, else it is not
//! extracted ("no answer"). A decision counts from the next run that
//! fires after it is recorded.

use super::Refusal;
use gpes_protocol::{Collection, Decision, ParticipationMode, ParticipationState, Preference};

/// Where a practice stands for a collection now, and why.
pub fn effective(
    collection: &Collection,
    decision: Option<(Decision, &str)>,
    preferences: &[Preference],
) -> ParticipationState {
    if collection.terms.participation == ParticipationMode::Mandatory {
        return ParticipationState::Mandatory;
    }
    if let Some((decision, reason)) = decision {
        return match decision {
            Decision::Accept => ParticipationState::Accepted,
            Decision::Decline => ParticipationState::Declined {
                reason: (!reason.is_empty()).then(|| reason.to_owned()),
            },
        };
    }
    match matching(collection, preferences) {
        Some(p) => match p.decision {
            Decision::Accept => ParticipationState::AcceptedByPreference {
                preference: p.id.clone(),
            },
            Decision::Decline => ParticipationState::DeclinedByPreference {
                preference: p.id.clone(),
            },
        },
        None => ParticipationState::NoAnswer,
    }
}

/// The preference that decides for a collection: of those matching its
/// purpose and requesting organisation, the one naming more (both beats
/// one beats neither); among equals, the latest made.
pub fn matching<'a>(
    collection: &Collection,
    preferences: &'a [Preference],
) -> Option<&'a Preference> {
    preferences
        .iter()
        .filter(|p| {
            p.purpose
                .is_none_or(|purpose| purpose == collection.purpose)
        })
        .filter(|p| {
            p.requested_by
                .as_deref()
                .is_none_or(|org| Some(org) == collection.terms.requested_by.as_deref())
        })
        .max_by_key(|p| {
            (
                u8::from(p.purpose.is_some()) + u8::from(p.requested_by.is_some()),
                p.made_ms,
                p.id.clone(),
            )
        })
}

/// A decision's reason: optional, one line, at most 500 characters.
pub fn check_reason(reason: Option<&str>) -> Result<String, Refusal> {
    let reason = reason.map(str::trim).unwrap_or("");
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(Refusal::Invalid(
            "a reason is at most 500 printable characters on one line".into(),
        ));
    }
    Ok(reason.to_owned())
}
