//! Why an operation was refused. Each leaves the store as it was; the HTTP
//! layer gives each its status.

use gpes_canon::ContentHash;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("the enrollment token is not known; ask the operator for a new one")]
    UnknownToken,
    #[error("the enrollment token was already used; each token enrolls one agent once")]
    TokenUsed,
    #[error("the enrollment token expired; ask the operator for a new one")]
    TokenExpired,
    #[error("agent '{agent}' does not serve practice '{practice}'")]
    NotYourPractice { agent: String, practice: String },
    #[error("agent '{0}' is not enrolled")]
    UnknownAgent(String),
    #[error("agent '{0}' was revoked")]
    Revoked(String),
    /// An operator named an agent the coordinator never enrolled.
    #[error("agent '{0}' does not exist")]
    NoSuchAgent(String),
    #[error("practice '{0}' is not in the registry")]
    UnknownPractice(String),
    #[error("agent '{0}' is already revoked")]
    AlreadyRevoked(String),
    #[error("job '{0}' does not exist")]
    UnknownJob(String),
    #[error("run '{0}' does not exist")]
    UnknownRun(String),
    #[error("job '{job}' is not held by agent '{agent}'")]
    NotYourJob { job: String, agent: String },
    #[error("the extract's hash is {actual}, not the {claimed} the upload claims")]
    HashMismatch {
        claimed: ContentHash,
        actual: ContentHash,
    },
    #[error("the extract is not a valid sealed extract: {0}")]
    BadExtract(String),
    #[error("the extract does not match its job: {0}")]
    WrongExtract(String),
    #[error(
        "job '{job}' already has a result with hash {stored}; a different result ({offered}) is refused"
    )]
    Conflict {
        job: String,
        stored: ContentHash,
        offered: ContentHash,
    },
    #[error("job '{job}' is {state}: {what}")]
    WrongState {
        job: String,
        state: String,
        what: String,
    },
    #[error("collection '{0}' does not exist")]
    UnknownCollection(String),
    #[error("collection '{id}' is {state}: {what}")]
    CollectionState {
        id: String,
        state: &'static str,
        what: String,
    },
    #[error("organisation '{0}' does not exist; an admin adds it with gpesctl org set")]
    UnknownOrganisation(String),
    #[error("declaration '{0}' does not exist")]
    UnknownDeclaration(String),
    #[error("query {0} is not in the library")]
    NoSuchQuery(String),
    #[error("user '{0}' does not exist")]
    NoSuchUser(String),
    #[error("token '{0}' does not exist")]
    NoSuchUserToken(String),
    /// Something with that name is already there.
    #[error("{0}")]
    Exists(String),
    /// The caller's grants do not reach what they asked for.
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Invalid(String),
    /// The store failed; the operation may be retried.
    #[error("the coordinator's store failed: {0}")]
    Store(String),
}
