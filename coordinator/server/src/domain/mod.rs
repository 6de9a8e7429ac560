//! The coordinator's rules, with neither HTTP nor SQL: what makes a
//! collection valid, how a job moves between states, what an upload must
//! match. Every operation that depends on the time takes it from its
//! caller, so tests control the clock.

pub mod collections;
pub mod declarations;
pub mod grants;
pub mod jobs;
pub mod manual;
pub mod organisations;
pub mod participation;
pub mod payments;
pub mod queries;
pub mod refusal;

pub use refusal::Refusal;

/// A fresh random identifier: `prefix` and 16 hex digits.
pub fn random_id(prefix: &str) -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    // The system's random source does not fail on Linux once booted; if it
    // ever did, a zero id collides with the next and the insert is refused.
    let _ = SystemRandom::new().fill(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}

/// ODS practice codes: letters and digits, 3 to 10 of them.
pub fn check_practice_code(code: &str) -> Result<(), Refusal> {
    if (3..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "'{code}' is not a practice (ODS) code: 3 to 10 letters and digits"
        )))
    }
}
