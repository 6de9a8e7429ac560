//! The wire types of the coordinator's two APIs, shared with the agent and
//! gpesctl: JSON bodies under `/v1/`, each carrying the protocol version so
//! that either side can say clearly when the other is too old or too new.
//!
//! Plain data and version checks only: no tokio, hyper, rustls or wasmtime
//! here, so every side can depend on it cheaply.

use gpes_canon::ContentHash;
pub use gpes_model::WarningKind;
pub use gpes_query::{
    AggregateResult, Answer, Cell, ColumnHead, OutValue, PopulationCount, RecordLevelResult,
    ResultOutput,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod v1;

/// The protocol this build speaks.
/// Version 2: the extract's answer is a typed `Answer` and the extract carries
/// its data-quality warnings by kind.
pub const PROTOCOL_VERSION: u32 = 2;
/// The HTTP header that carries the version on every request and response.
pub const VERSION_HEADER: &str = "gpes-protocol";
/// The oldest agent protocol the coordinator still serves, for the poll
/// and the upload only (see [`v1`]), so that a coordinator can be upgraded
/// before its agents.
pub const OLDEST_AGENT_VERSION: u32 = v1::VERSION;

/// The other side speaks another version of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionMismatch {
    #[error(
        "the other side speaks protocol version {theirs}, older than this side's {ours}: upgrade the other side"
    )]
    TooOld { theirs: u32, ours: u32 },
    #[error(
        "the other side speaks protocol version {theirs}, newer than this side's {ours}: upgrade this side"
    )]
    TooNew { theirs: u32, ours: u32 },
    #[error(
        "the other side did not say which protocol version it speaks (header '{VERSION_HEADER}'); it is not a GPES peer or is too old"
    )]
    Missing,
}

/// Checks a peer's protocol version against ours.
pub fn check_version(theirs: Option<u32>) -> Result<(), VersionMismatch> {
    match theirs {
        None => Err(VersionMismatch::Missing),
        Some(v) if v < PROTOCOL_VERSION => Err(VersionMismatch::TooOld {
            theirs: v,
            ours: PROTOCOL_VERSION,
        }),
        Some(v) if v > PROTOCOL_VERSION => Err(VersionMismatch::TooNew {
            theirs: v,
            ours: PROTOCOL_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

/// Why a collection is made; travels in every job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    DirectCare,
    Payment,
    Planning,
    Research,
    Publication,
}

/// What kind of data a collection may take; travels in every job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataClass {
    Aggregate,
    RecordLevelDeidentified,
    PatientIdentifiable,
}

/// A query as it travels: its canonical JSON, the hash of that, and the
/// file the operator wrote (so the agent can show and re-check it: the
/// agent parses `source`, and runs it only if its canonical hash is `hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuerySpec {
    pub canonical: String,
    pub hash: ContentHash,
    pub source: String,
}

// ---- agent API (mutual TLS) ----

/// `POST /v1/enroll` on the operator listener (the agent has no
/// certificate yet): the token's secret and a CSR made on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub secret: String,
    pub csr_pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: String,
    pub certificate_pem: String,
    pub ca_pem: String,
    /// ODS codes of the practices this agent may serve.
    pub practices: Vec<String>,
    /// Address of the agent listener (mutual TLS).
    pub agent_api: String,
}

/// `POST /v1/jobs/poll`: waits up to `wait_ms` for jobs of the given
/// practices (all the agent serves when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    pub practices: Vec<String>,
    pub wait_ms: u64,
    /// The agent's state, sent with each poll (protocol 2; absent from
    /// older agents).
    #[serde(default)]
    pub heartbeat: Option<Heartbeat>,
    /// Jobs whose extract the agent holds sealed in its buffer, not yet
    /// acknowledged: their leases are extended rather than the jobs handed
    /// out again.
    #[serde(default)]
    pub held: Vec<String>,
}

/// An agent's state, as it reports it with each poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub agent_version: String,
    #[serde(default)]
    pub practices: Vec<PracticeHeartbeat>,
}

/// One served practice's line in a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeHeartbeat {
    pub practice: String,
    pub plugin_name: String,
    pub plugin_version: String,
    /// Extracts sealed and waiting for a receipt.
    pub buffer_depth: u64,
    pub last_error: Option<String>,
}

/// `GET /v1/agents/{id}` (and each line of `GET /v1/agents`): an enrolled
/// agent as the coordinator knows it from enrollment and heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub agent_id: String,
    pub enrolled_ms: u64,
    #[serde(default)]
    pub revoked_ms: Option<u64>,
    #[serde(default)]
    pub last_seen_ms: Option<u64>,
    #[serde(default)]
    pub agent_version: Option<String>,
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The practices it serves, each with what its last heartbeat said.
    #[serde(default)]
    pub practices: Vec<AgentPractice>,
}

/// One practice an agent serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPractice {
    pub practice: String,
    #[serde(default)]
    pub plugin_name: Option<String>,
    #[serde(default)]
    pub plugin_version: Option<String>,
    #[serde(default)]
    pub buffer_depth: Option<u64>,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// `POST /v1/agents/{id}/revoke`: what the revocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeResponse {
    pub agent: AgentInfo,
    /// Jobs it held, handed back to be given to another agent.
    pub jobs_released: u64,
}

/// One entry of the audit trail (`GET /v1/audit`, newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_ms: u64,
    /// Who: `admin`, a user, `agent:<id>`, `token:<agent id>`.
    pub actor: String,
    /// The grant the action was allowed under.
    pub grant: String,
    pub action: String,
    /// What it was done to: a run, a collection, an agent, a job.
    pub target: String,
    /// JSON text: the rest of what was done.
    pub detail: String,
    /// HMAC-SHA256 of this entry and the previous entry's mac.
    pub mac: String,
}

/// `GET /v1/audit/verify`: the whole trail checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub entries: u64,
    pub last_seq: u64,
    /// The signed checkpoint compared, if there was one.
    #[serde(default)]
    pub checkpoint_seq: Option<u64>,
    pub ok: bool,
    /// Every problem found (at most 100).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A practice in the registry (`GET /v1/practices/{code}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practice {
    /// The ODS code.
    pub code: String,
    pub name: String,
    /// The commissioning organisation's code.
    pub region: String,
    pub status: PracticeStatus,
    #[serde(default)]
    pub open_date: Option<String>,
    #[serde(default)]
    pub close_date: Option<String>,
    /// The practice it merged into, when it did.
    #[serde(default)]
    pub successor: Option<String>,
    #[serde(default)]
    pub supplier: Option<String>,
    #[serde(default)]
    pub clinical_system: Option<String>,
    /// A test practice: never part of a national collection's figures.
    #[serde(default)]
    pub test: bool,
}

/// A practice's status as the ODS file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PracticeStatus {
    Active,
    Closed,
    Dormant,
    Proposed,
}

impl PracticeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PracticeStatus::Active => "active",
            PracticeStatus::Closed => "closed",
            PracticeStatus::Dormant => "dormant",
            PracticeStatus::Proposed => "proposed",
        }
    }
}

/// One practice as a registry file gives it (what `import` may change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeRecord {
    pub code: String,
    pub name: String,
    pub region: String,
    pub status: PracticeStatus,
    #[serde(default)]
    pub open_date: Option<String>,
    #[serde(default)]
    pub close_date: Option<String>,
}

/// A merger: `code` closed into `successor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessorRecord {
    pub code: String,
    pub successor: String,
}

/// `POST /v1/practices/import`: a batch of the registry files' lines,
/// applied idempotently in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeImportRequest {
    #[serde(default)]
    pub practices: Vec<PracticeRecord>,
    #[serde(default)]
    pub successors: Vec<SuccessorRecord>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeImportResponse {
    pub added: Vec<String>,
    /// Each changed practice and its fields that changed, as
    /// `field: old -> new`.
    pub changed: Vec<(String, Vec<String>)>,
    pub unchanged: u64,
}

/// `POST /v1/practices/{code}`: what the ODS file does not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeSetRequest {
    #[serde(default)]
    pub supplier: Option<String>,
    #[serde(default)]
    pub clinical_system: Option<String>,
    #[serde(default)]
    pub test: Option<bool>,
}

/// `POST /v1/users`: a person who will sign in with API tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Their user name: lower-case letters, digits, `.`, `-` and `_`.
    pub id: String,
    /// Their full name, as pages and the audit trail show it.
    pub name: String,
}

/// A role granted to a user, with its scope: a practice code for the
/// practice roles (`B1842`..`B1845`, `declarer`), a region (commissioner
/// code) for `commissioner`, a requesting organisation for `recipient`, a
/// supplier for `supplier`; none for `admin`, `collection-manager` and
/// `viewer`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    pub role: String,
    #[serde(default)]
    pub scope: Option<String>,
}

/// `GET /v1/users/{id}`: a user, their grants and their tokens (never the
/// secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub created_ms: u64,
    pub created_by: String,
    #[serde(default)]
    pub disabled_ms: Option<u64>,
    #[serde(default)]
    pub grants: Vec<GrantSpec>,
    #[serde(default)]
    pub tokens: Vec<UserToken>,
}

/// One of a user's API tokens, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserToken {
    pub id: String,
    pub label: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    #[serde(default)]
    pub revoked_ms: Option<u64>,
    /// Written at most once a minute.
    #[serde(default)]
    pub last_used_ms: Option<u64>,
}

/// `POST /v1/users/{id}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserTokenRequest {
    /// Days until it expires: 1 to 365.
    pub ttl_days: u32,
    /// What it is for ("laptop", "nightly export").
    #[serde(default)]
    pub label: Option<String>,
}

/// The new token: its secret is shown this once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUserTokenResponse {
    pub token_id: String,
    pub user_id: String,
    pub secret: String,
    pub expires_ms: u64,
}

/// `GET /v1/me`: who the token belongs to and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub actor: String,
    #[serde(default)]
    pub grants: Vec<GrantSpec>,
}

/// `POST /v1/queries`: a query document for the library, with every code
/// list it names folded in (gpesctl folds them before sending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushQueryRequest {
    pub source: String,
}

/// A version of a query in the library: immutable once pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryVersion {
    /// The query's own `id`.
    pub id: String,
    /// 1, 2, ...: a push of a different text makes the next.
    pub version: u32,
    pub title: String,
    /// The hash of the canonical query: what agents check and extracts name.
    pub hash: ContentHash,
    pub pushed_ms: u64,
    pub pushed_by: String,
    /// The text as pushed; absent in lists.
    #[serde(default)]
    pub source: Option<String>,
}

/// The answer to a push: the version, and whether this push made it (a
/// text already in the library gives back its version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushQueryResponse {
    pub query: QueryVersion,
    pub created: bool,
}

/// Which practices a collection reaches beyond its explicit list,
/// resolved from the registry each time a run fires: every active
/// practice (not a test practice) that is in one of the regions, or has
/// one of the suppliers, or all of them; less the exclusions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub suppliers: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Targeting {
    /// Whether it reaches anything beyond an explicit list.
    pub fn reaches_beyond_list(&self) -> bool {
        self.all || !self.regions.is_empty() || !self.suppliers.is_empty()
    }
}

/// Where a collection is in its life: a draft is made but does not run;
/// an active one's schedule fires; a paused one fires nothing until it is
/// active again; a retired one is over for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionState {
    Draft,
    #[default]
    Active,
    Paused,
    Retired,
}

impl CollectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionState::Draft => "draft",
            CollectionState::Active => "active",
            CollectionState::Paused => "paused",
            CollectionState::Retired => "retired",
        }
    }
}

/// Whether a targeted practice must take part (mandatory) or is offered
/// the collection and takes part only when it accepts, or when a standing
/// preference of its own accepts for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParticipationMode {
    #[default]
    Mandatory,
    Offered,
}

/// How a collection's values are got: by the agents, or entered by hand
/// by each practice's declarer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionMethod {
    #[default]
    Automatic,
    Manual,
}

/// The terms a collection is made under: who asked, on what basis, how
/// practices take part, and what its results need before delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionTerms {
    /// The requesting organisation's code (`gpesctl org`); its delivery
    /// target is where the results go.
    #[serde(default)]
    pub requested_by: Option<String>,
    #[serde(default)]
    pub participation: ParticipationMode,
    #[serde(default)]
    pub method: CollectionMethod,
    /// For patient-identifiable data: the legal basis recorded (for
    /// example "Health and Social Care Act 2012 s259(1)(a) direction").
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// For patient-identifiable data: the approval's reference (for
    /// example an IGARD or CAG reference).
    #[serde(default)]
    pub approval_reference: Option<String>,
    /// A practice's declarer must declare its result.
    #[serde(default)]
    pub needs_declaration: bool,
    /// The practice's commissioner must approve its declared result.
    #[serde(default)]
    pub needs_approval: bool,
    /// How approved results are paid, for a payment collection.
    #[serde(default)]
    pub payment: Option<PaymentRule>,
}

/// A requesting organisation and where its deliveries go; kept by an
/// admin (`POST /v1/organisations/{code}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    pub delivery: DeliveryTarget,
    #[serde(default)]
    pub updated_ms: u64,
}

/// `POST /v1/organisations/{code}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationSetRequest {
    pub name: String,
    pub delivery: DeliveryTarget,
}

/// Where a requesting organisation's results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DeliveryTarget {
    /// Not delivered: the organisation downloads its results.
    None,
    /// A folder on the coordinator's host (absolute path).
    Folder { path: String },
    /// An NHS MESH mailbox and the workflow id its messages carry.
    Mesh {
        mailbox: String,
        workflow_id: String,
    },
}

/// One version of a collection's definition (`GET
/// /v1/collections/{id}/versions`): what it was from `made_ms`, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionVersion {
    pub version: u32,
    pub made_ms: u64,
    pub made_by: String,
    pub collection: Collection,
}

/// A practice's answer to an offered collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Accept,
    Decline,
}

/// Where a practice stands for a collection, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ParticipationState {
    /// The collection is mandatory.
    Mandatory,
    /// The practice accepted it.
    Accepted,
    /// The practice declined it (or withdrew).
    Declined {
        #[serde(default)]
        reason: Option<String>,
    },
    /// No decision; a standing preference accepts it.
    AcceptedByPreference { preference: String },
    /// No decision; a standing preference declines it.
    DeclinedByPreference { preference: String },
    /// No decision and no preference: not extracted.
    NoAnswer,
}

impl ParticipationState {
    /// Whether the practice is extracted.
    pub fn takes_part(&self) -> bool {
        matches!(
            self,
            ParticipationState::Mandatory
                | ParticipationState::Accepted
                | ParticipationState::AcceptedByPreference { .. }
        )
    }

    /// One word for tables and job records.
    pub fn as_str(&self) -> &'static str {
        match self {
            ParticipationState::Mandatory => "mandatory",
            ParticipationState::Accepted => "accepted",
            ParticipationState::Declined { .. } => "declined",
            ParticipationState::AcceptedByPreference { .. } => "accepted-by-preference",
            ParticipationState::DeclinedByPreference { .. } => "declined-by-preference",
            ParticipationState::NoAnswer => "no-answer",
        }
    }
}

/// `POST /v1/collections/{id}/decisions`: a `B1845` user's decision for
/// their practice; in force from the next run that fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub practice: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One decision recorded, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub collection_id: String,
    pub practice: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: Option<String>,
    pub made_ms: u64,
    pub made_by: String,
}

/// A practice's standing preference: for collections it has not decided
/// on, of a purpose and/or from a requesting organisation (either may be
/// absent: any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub id: String,
    pub practice: String,
    pub decision: Decision,
    #[serde(default)]
    pub purpose: Option<Purpose>,
    #[serde(default)]
    pub requested_by: Option<String>,
    pub made_ms: u64,
    pub made_by: String,
}

/// `POST /v1/practices/{code}/preferences`: a `B1844` user's standing
/// preference for their practice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceRequest {
    pub decision: Decision,
    #[serde(default)]
    pub purpose: Option<Purpose>,
    #[serde(default)]
    pub requested_by: Option<String>,
}

/// `GET /v1/offers?practice=CODE`: a collection targeting the practice,
/// with where the practice stands for its next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub practice: String,
    pub collection_id: String,
    pub collection_name: String,
    pub purpose: Purpose,
    pub data_class: DataClass,
    pub collection_state: CollectionState,
    pub terms: CollectionTerms,
    /// The next time its schedule fires (Unix ms), if it has one.
    #[serde(default)]
    pub next_run_ms: Option<u64>,
    pub participation: ParticipationState,
}

/// One practice's participation in an upcoming run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeParticipation {
    pub practice: String,
    pub participation: ParticipationState,
}

/// A user's calendar feed (`/v1/me/feeds`); its secret address is shown
/// once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarFeed {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    pub created_ms: u64,
    #[serde(default)]
    pub revoked_ms: Option<u64>,
}

/// `POST /v1/me/feeds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFeedRequest {
    #[serde(default)]
    pub label: Option<String>,
}

/// The new feed, with the path of its address (on the operator listener);
/// the secret in it is not kept and cannot be shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFeedResponse {
    pub feed: CalendarFeed,
    pub path: String,
}

/// `POST /v1/collections/{id}/dry-run`: the collection run now on test
/// practices of the registry (those named, or every active one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    #[serde(default)]
    pub practices: Vec<String>,
}

/// `POST /v1/collections/{id}/adhoc`: a practice's own extraction, now,
/// of a collection that targets it (`B1842`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdhocRequest {
    pub practice: String,
}

/// What needs someone's attention (`GET /v1/attention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionKind {
    /// An offered collection's next run is near and the practice has
    /// neither decided nor a preference that decides: it will not be
    /// extracted.
    NoDecision,
    /// A job failed, or is failing and being retried.
    FailingJob,
    /// An agent has not been seen for a day.
    AgentSilent,
    /// A declaration has waited for its commissioner longer than the
    /// coordinator's `declaration_attention_hours`.
    DeclarationWaiting,
}

/// One line of the needs-attention list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionItem {
    pub kind: AttentionKind,
    #[serde(default)]
    pub practice: Option<String>,
    #[serde(default)]
    pub collection_id: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    /// When it began to matter: the run due, the failure, the last time
    /// seen (Unix ms).
    #[serde(default)]
    pub since_ms: Option<u64>,
    /// In words.
    pub detail: String,
}

/// Where a declaration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclarationState {
    /// Declared by the practice, waiting for its commissioner.
    Declared,
    /// Approved (by the commissioner, or at once when the collection
    /// needs no approval: `decided_by` is then `automatic`).
    Approved,
    /// Rejected by the commissioner, with a reason; the practice declares
    /// again.
    Rejected,
    /// A new, different result for the same practice and period arrived:
    /// the practice declares again.
    Reopened,
}

/// A practice's declaration of one exact result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub id: String,
    pub run_id: String,
    pub collection_id: String,
    pub practice: String,
    pub extract_hash: ContentHash,
    pub state: DeclarationState,
    pub declared_ms: u64,
    pub declared_by: String,
    #[serde(default)]
    pub decided_ms: Option<u64>,
    #[serde(default)]
    pub decided_by: Option<String>,
    /// Why it was rejected or re-opened.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /v1/runs/{id}/declarations`: a declarer declares the practice's
/// result of a run, named by its extract hash (it must be the latest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    pub practice: String,
    pub extract_hash: ContentHash,
}

/// `POST /v1/declarations/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}

/// A payment rule in the shape of the Quality and Outcomes Framework:
/// per indicator, points between a lower and an upper achievement
/// threshold, paid at a price per point, adjusted for the practice's list
/// size against the national average and, for prevalence-adjusted
/// indicators, its prevalence against the national one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRule {
    /// The price of a point, in pence.
    pub pence_per_point: u64,
    /// The national average list size.
    pub national_list_size: u64,
    /// The query's population whose count is the practice's list size.
    pub list_size_population: String,
    pub indicators: Vec<IndicatorPayment>,
}

/// One indicator of a payment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorPayment {
    pub indicator: String,
    /// The query's populations: achievement is numerator / denominator.
    pub numerator: String,
    pub denominator: String,
    pub points: u32,
    /// Achievement thresholds, in whole per cent (lower below upper).
    pub lower_threshold: u32,
    pub upper_threshold: u32,
    /// For a prevalence-adjusted indicator: the register population and
    /// the national prevalence, in parts per million.
    #[serde(default)]
    pub register: Option<String>,
    #[serde(default)]
    pub national_prevalence_ppm: Option<u64>,
}

/// One practice's payment for one indicator, with the working shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentLine {
    pub practice: String,
    pub indicator: String,
    pub numerator: u64,
    pub denominator: u64,
    pub list_size: u64,
    #[serde(default)]
    pub register: Option<u64>,
    /// Points achieved, to two places (the money is worked from the exact
    /// value).
    pub points_achieved: String,
    pub pence: u64,
    /// The working, in words and numbers.
    pub working: String,
}

/// `GET /v1/runs/{id}/payments`: the payment lines of the practices whose
/// result for the period is approved, and those still waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payments {
    pub run_id: String,
    pub lines: Vec<PaymentLine>,
    pub total_pence: u64,
    /// Practices with no approved result yet: no line until there is.
    pub waiting: Vec<String>,
    /// How money is rounded.
    pub rounding: String,
}

/// `POST /v1/runs/{id}/manual`: a practice's values entered by hand, a
/// count for every population the query gives (and, where it has a
/// breakdown, optionally its cells).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualEntryRequest {
    pub practice: String,
    pub populations: Vec<PopulationCount>,
}

/// One version of a practice's values entered by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualEntry {
    pub run_id: String,
    pub practice: String,
    pub version: u32,
    pub extract_hash: ContentHash,
    pub populations: Vec<PopulationCount>,
    pub entered_ms: u64,
    pub entered_by: String,
}

/// `GET /v1/runs/{id}/view?practice=CODE`: a practice's own result of a
/// run, each population with what it counts in plain English, and where
/// the numbers came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PracticeView {
    pub run: Run,
    pub collection_name: String,
    pub practice: String,
    pub status: JobStatus,
    #[serde(default)]
    pub participation: Option<String>,
    pub populations: Vec<PopulationView>,
    /// Where the numbers came from, once there are some.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// The whole query in plain English.
    pub explanation: String,
}

/// One population of a practice's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationView {
    pub population: String,
    /// The count, or absent while there is none (or it was suppressed).
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub suppressed: bool,
    /// What it counts, in plain English.
    pub explanation: String,
}

/// Where a practice's result came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub extract_hash: ContentHash,
    pub parameters: BTreeMap<String, String>,
    /// The files read: name, size and SHA-256 of each (empty for values
    /// entered by hand).
    pub inputs: Vec<InputFile>,
    /// `manual-entry` for values entered by hand.
    pub plugin_name: String,
    pub plugin_version: String,
    pub engine_version: String,
    pub stored_ms: u64,
    /// The agent that sent it, or `manual:<who>`.
    pub stored_by: String,
}

/// One upcoming run on the timetable (`GET /v1/timetable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimetableEntry {
    pub collection_id: String,
    pub collection_name: String,
    /// When it is due, Unix ms, and as London local time (RFC 3339).
    pub due_ms: u64,
    pub due_local: String,
    /// The practices it would reach if it fired now.
    pub practice_count: u64,
    /// For a caller whose grants reach some practices only: which of
    /// theirs it reaches (empty for operators, who see the count).
    #[serde(default)]
    pub practices: Vec<String>,
    #[serde(default)]
    pub participation_mode: ParticipationMode,
    /// Of the practices it reaches, how many would be extracted if it
    /// fired now (all of them for a mandatory collection).
    #[serde(default)]
    pub participating: u64,
    /// For a caller whose grants reach some practices only: where each of
    /// theirs stands for this run.
    #[serde(default)]
    pub participation: Vec<PracticeParticipation>,
}

/// A collection's query, named in the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRef {
    pub id: String,
    pub version: u32,
}

/// `POST /v1/failures`: an extraction that did not give an extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureReport {
    pub job_id: String,
    /// What went wrong, for the operator.
    pub reason: String,
    /// Whether running it again could help (a plugin crash, a busy
    /// machine), or not (the site's policy refuses the job).
    pub retryable: bool,
}

/// The coordinator's answer to a failure report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureAck {
    pub job_id: String,
    /// `pending` (to be retried after `retry_at_ms`) or `failed`.
    pub status: JobStatus,
    pub retry_at_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResponse {
    pub jobs: Vec<Job>,
}

/// One practice's part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub collection_id: String,
    pub run_id: String,
    pub practice: String,
    pub query: QuerySpec,
    /// Reference dates and other parameters, by name (ISO dates).
    pub parameters: BTreeMap<String, String>,
    pub purpose: Purpose,
    pub data_class: DataClass,
    /// Unix milliseconds after which the job may be handed out again.
    pub lease_expires_ms: u64,
}

/// `POST /v1/results`: a sealed extract (its canonical JSON) and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub job_id: String,
    pub extract: String,
    pub extract_hash: ContentHash,
}

/// Sent only after the coordinator's store has flushed the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub job_id: String,
    pub extract_hash: ContentHash,
    /// Unix milliseconds when the result was first stored.
    pub stored_ms: u64,
}

/// One file the plugin read: name, size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What an agent seals and uploads. Its hash covers exactly these fields,
/// never times or signatures, so a rerun on the same data gives the same
/// hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    pub practice: String,
    pub query_hash: ContentHash,
    pub parameters: BTreeMap<String, String>,
    pub plugin_name: String,
    pub plugin_version: String,
    pub engine_version: String,
    pub inputs: Vec<InputFile>,
    /// The engine's answer.
    pub result: Answer,
    /// Data-quality warnings of the extraction (the plugin's and the
    /// host's), counted by kind, sorted by kind; the site's own logs and
    /// `gpes-plugin run` name the files and lines.
    pub data_quality_warnings: Vec<WarningCount>,
}

/// How many data-quality warnings of one kind an extraction gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningCount {
    pub kind: WarningKind,
    pub count: u64,
}

impl WarningCount {
    /// From counts by kind (a map, so already sorted by kind).
    pub fn from_map(by_kind: &BTreeMap<WarningKind, u64>) -> Vec<WarningCount> {
        by_kind
            .iter()
            .map(|(kind, count)| WarningCount {
                kind: *kind,
                count: *count,
            })
            .collect()
    }
}

// ---- operator API (server TLS and a bearer token) ----

/// `POST /v1/tokens`: a one-time enrollment token for a new agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// ODS codes of the practices the agent will serve.
    pub practices: Vec<String>,
    /// How long the token stays valid.
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTokenResponse {
    /// The copyable token to give the agent's installer.
    pub token: String,
    pub agent_id: String,
    pub expires_ms: u64,
}

/// `POST /v1/collections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollectionRequest {
    pub name: String,
    /// The query document, as text (it is pushed into the library, or
    /// found there when the same text is already); empty when `query_ref`
    /// names a version of the library.
    #[serde(default)]
    pub query: String,
    /// A version of the library, instead of `query`.
    #[serde(default)]
    pub query_ref: Option<QueryRef>,
    /// Fixed values, or `run-date` for the London date the run fired.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Five-field cron expression in Europe/London time, or empty for a
    /// collection run only by hand.
    #[serde(default)]
    pub schedule: String,
    /// Practices named one by one (a merged practice's successor takes
    /// its place when a run fires).
    #[serde(default)]
    pub practices: Vec<String>,
    /// Practices by region, supplier or all, less exclusions.
    #[serde(default)]
    pub targeting: Targeting,
    pub purpose: Purpose,
    pub data_class: DataClass,
    /// How long after it fires a run takes uploads before its waiting
    /// jobs expire; the coordinator's default when absent.
    #[serde(default)]
    pub deadline_seconds: Option<u64>,
    /// `draft` to make it without running it yet; active when absent
    /// (ignored by an edit).
    #[serde(default)]
    pub draft: bool,
    /// Who asked, on what basis, how practices take part.
    #[serde(default)]
    pub terms: CollectionTerms,
}

/// A collection: a query, its parameters, when it runs and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    pub id: String,
    pub name: String,
    pub query: QuerySpec,
    /// The library version the query is.
    pub query_ref: QueryRef,
    pub parameters: BTreeMap<String, String>,
    pub schedule: String,
    pub practices: Vec<String>,
    #[serde(default)]
    pub targeting: Targeting,
    pub purpose: Purpose,
    pub data_class: DataClass,
    pub deadline_seconds: u64,
    pub created_ms: u64,
    #[serde(default)]
    pub state: CollectionState,
    /// Its definition's version: 1 when made, one more at each edit.
    #[serde(default = "first_version")]
    pub version: u32,
    #[serde(default)]
    pub terms: CollectionTerms,
}

fn first_version() -> u32 {
    1
}

/// One firing of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub collection_id: String,
    /// When the schedule said it was due (or when an operator asked).
    pub fired_ms: u64,
    /// After this, waiting jobs expire (uploads are still stored, late).
    pub deadline_ms: u64,
    /// The run's parameters, `run-date` resolved.
    pub parameters: BTreeMap<String, String>,
    pub job_count: u64,
    /// Set when an operator cancelled the run.
    #[serde(default)]
    pub cancelled_ms: Option<u64>,
    /// The collection's definition version it ran (0 for a run made before
    /// versions were recorded).
    #[serde(default)]
    pub collection_version: u32,
    /// The library version of the query it ran.
    #[serde(default)]
    pub query_ref: Option<QueryRef>,
    #[serde(default)]
    pub kind: RunKind,
}

/// Why a run exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// The schedule fired it.
    #[default]
    Scheduled,
    /// An operator ran it now.
    Manual,
    /// A trial on the registry's test practices: kept apart, never
    /// delivered, deletable.
    DryRun,
    /// A practice's own extraction, now: its result is the practice's
    /// alone, never delivered or counted in the national run.
    Adhoc,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scheduled => "scheduled",
            RunKind::Manual => "manual",
            RunKind::DryRun => "dry-run",
            RunKind::Adhoc => "adhoc",
        }
    }
}

/// How many of a run's jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub pending: u64,
    pub leased: u64,
    pub done: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
    /// Done, but stored after the run's deadline.
    pub late: u64,
    /// Targeted, but declined or did not answer an offered collection.
    #[serde(default)]
    pub not_participating: u64,
    /// Entered by hand.
    #[serde(default)]
    pub manual: u64,
}

impl JobCounts {
    pub fn total(&self) -> u64 {
        self.pending
            + self.leased
            + self.done
            + self.failed
            + self.expired
            + self.cancelled
            + self.not_participating
            + self.manual
    }
    /// Nothing left to wait for.
    pub fn finished(&self) -> bool {
        self.pending == 0 && self.leased == 0
    }
}

/// A run with its jobs counted by state: one line of `GET /v1/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: Run,
    pub collection_name: String,
    pub jobs: JobCounts,
}

/// One page of a list; `next` is the cursor of the next page, absent on
/// the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next: Option<String>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobStatus {
    Pending,
    Leased,
    Done,
    Failed,
    Expired,
    Cancelled,
    /// An offered collection the practice declined, or did not answer:
    /// never extracted.
    NotParticipating,
    /// Values entered by hand by the practice's declarer.
    Manual,
}

/// One practice's line in a run's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub job_id: String,
    pub practice: String,
    pub status: JobStatus,
    /// Extractions handed out and failed so far.
    #[serde(default)]
    pub attempts: u64,
    /// The last failure the agent reported.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub stored_ms: Option<u64>,
    /// Stored after the run's deadline.
    #[serde(default)]
    pub late: bool,
    pub extract_hash: Option<ContentHash>,
    /// The engine's answer, when done.
    pub result: Option<Answer>,
    /// The extract's data-quality warnings by kind, when done.
    #[serde(default)]
    pub data_quality_warnings: Vec<WarningCount>,
    /// How the practice came to be in the run (mandatory, accepted,
    /// accepted-by-preference) or why it was not extracted (declined,
    /// declined-by-preference, no-answer).
    #[serde(default)]
    pub participation: Option<String>,
}

/// `GET /v1/runs/{id}/results`: one page of a run's per-practice lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub summary: RunSummary,
    pub results: Vec<ResultRow>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /v1/runs/{id}/records?practice=CODE`: one practice's record-level
/// answer, an audited download for the roles allowed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsDownload {
    pub run_id: String,
    pub practice: String,
    pub job_id: String,
    pub extract_hash: ContentHash,
    pub records: RecordLevelResult,
}

// ---- errors ----

/// What kind of refusal; stable names a client can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    VersionMismatch,
    TooLarge,
    UnsupportedMediaType,
    Unprocessable,
    MethodNotAllowed,
    Timeout,
    Unavailable,
    Internal,
    /// A code this side does not know (a newer peer).
    #[serde(other)]
    Other,
}

/// The media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response: an RFC 9457 problem with the stable
/// `code` as an extension member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default = "about_blank")]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    /// What was wrong and what to do, for people.
    #[serde(default)]
    pub detail: String,
    pub code: ErrorCode,
    /// The request's id, as in the coordinator's log.
    #[serde(default)]
    pub request_id: Option<String>,
}

fn about_blank() -> String {
    "about:blank".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked_both_ways() {
        assert_eq!(check_version(Some(PROTOCOL_VERSION)), Ok(()));
        assert!(matches!(
            check_version(Some(PROTOCOL_VERSION + 1)),
            Err(VersionMismatch::TooNew { .. })
        ));
        assert!(matches!(
            check_version(Some(0)),
            Err(VersionMismatch::TooOld { .. })
        ));
        assert_eq!(check_version(None), Err(VersionMismatch::Missing));
        let msg = check_version(Some(PROTOCOL_VERSION + 1))
            .expect_err("too new")
            .to_string();
        assert!(msg.contains("upgrade this side"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let body = r#"{"practices":[],"wait_ms":25000,"surprise":1}"#;
        let err = serde_json::from_str::<PollRequest>(body).expect_err("refused");
        assert!(err.to_string().contains("surprise"), "{err}");
    }

    #[test]
    fn answers_accept_fields_a_newer_coordinator_adds() {
        // Requests are strict; answers are read by older peers too, so
        // they ignore what they do not know (the sealed Extract excepted).
        let job = r#"{"job_id":"j","collection_id":"c","run_id":"r","practice":"A81001",
            "query":{"canonical":"{}","hash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","source":"x","new":1},
            "parameters":{},"purpose":"planning","data_class":"aggregate","lease_expires_ms":1,"new":1}"#;
        serde_json::from_str::<Job>(job).expect("job");
        serde_json::from_str::<PollResponse>(&format!(r#"{{"jobs":[{job}],"new":1}}"#))
            .expect("poll response");
        serde_json::from_str::<Receipt>(
            r#"{"job_id":"j","extract_hash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","stored_ms":1,"new":1}"#,
        )
        .expect("receipt");
        serde_json::from_str::<FailureAck>(
            r#"{"job_id":"j","status":"failed","retry_at_ms":null,"new":1}"#,
        )
        .expect("failure ack");
        serde_json::from_str::<EnrollResponse>(
            r#"{"agent_id":"a","certificate_pem":"","ca_pem":"","practices":[],"agent_api":"x","new":1}"#,
        )
        .expect("enroll response");
        serde_json::from_str::<Problem>(r#"{"code":"brand-new","detail":"d","new":1}"#)
            .expect("problem");
    }

    #[test]
    fn the_sealed_extract_stays_strict() {
        let err = serde_json::from_str::<Extract>(r#"{"surprise":1}"#).expect_err("refused");
        assert!(err.to_string().contains("surprise"), "{err}");
    }

    #[test]
    fn names_on_the_wire_are_kebab_case() {
        assert_eq!(
            serde_json::to_string(&DataClass::RecordLevelDeidentified).expect("json"),
            "\"record-level-deidentified\""
        );
        assert_eq!(
            serde_json::to_string(&Purpose::DirectCare).expect("json"),
            "\"direct-care\""
        );
    }
}
