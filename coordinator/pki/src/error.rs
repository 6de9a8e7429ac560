//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong in this crate. Each message says what was
/// wrong and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file or directory could not be read, written or created.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Only one of the CA's two files exists.
    #[error(
        "the CA in {} is incomplete: {present} exists but {missing} does not; \
         restore {missing} from a backup, or (losing every agent's enrollment) remove {present} \
         so that a new CA is created",
        dir.display()
    )]
    CaIncomplete {
        /// The data directory.
        dir: PathBuf,
        /// The file that exists.
        present: &'static str,
        /// The file that is missing.
        missing: &'static str,
    },

    /// A private key file can be read by other users.
    #[error(
        "the private key {} can be read by other users (mode {mode:04o}); \
         run `chmod 600 {}` and consider the key compromised if others could reach it",
        path.display(),
        path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The CA certificate or key is unusable.
    #[error("the CA is unusable: {0}")]
    InvalidCa(String),

    /// rcgen failed to make a key or a certificate.
    #[error("could not generate {what}: {source}")]
    Generate {
        /// What was being generated.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// PEM input had no usable section of the expected kind.
    #[error("{what} is not valid PEM: {reason}")]
    Pem {
        /// What was expected ("the CA certificate", ...).
        what: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A certificate could not be parsed.
    #[error("{what} is not a valid X.509 certificate: {reason}")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A private key could not be parsed or is of a kind this crate refuses.
    #[error("{what} is not a usable private key: {reason}")]
    PrivateKey {
        /// Which key.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// The certificate signing request could not be parsed.
    #[error(
        "the certificate signing request cannot be parsed: {0}; send one PEM `CERTIFICATE REQUEST`"
    )]
    CsrParse(String),

    /// The CSR's self-signature does not verify.
    #[error(
        "the certificate signing request's signature does not verify ({0}); \
         it was altered or not signed with the key it carries"
    )]
    CsrSignature(String),

    /// The CSR's key is of a kind this crate does not certify.
    #[error(
        "the certificate signing request carries a {found} key; \
         only ECDSA P-256 and Ed25519 keys are certified"
    )]
    CsrKeyAlgorithm {
        /// A description of the key found.
        found: String,
    },

    /// An agent id is not acceptable.
    #[error(
        "invalid agent id {id:?}: {reason}; an agent id is 1 to 64 ASCII letters, digits, \
         '-', '_' or '.', starting with a letter or digit"
    )]
    InvalidAgentId {
        /// The id given.
        id: String,
        /// What was wrong.
        reason: &'static str,
    },

    /// A certificate does not carry exactly one agent id.
    #[error("the certificate does not name an agent: {0}")]
    NoAgentId(String),

    /// A name for a server certificate is neither an IP address nor a DNS name.
    #[error("{name:?} is neither an IP address nor a valid DNS name for a server certificate")]
    InvalidServerName {
        /// The name given.
        name: String,
    },

    /// A server certificate was requested for no names at all.
    #[error("a server certificate needs at least one DNS name or IP address")]
    NoServerNames,

    /// A validity period of zero (or too long) days.
    #[error("a certificate's validity must be between 1 and {max} days, not {days}")]
    InvalidValidity {
        /// The days given.
        days: u32,
        /// The maximum allowed.
        max: u32,
    },

    /// rustls refused a configuration.
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),

    /// rustls refused to build a certificate verifier.
    #[error("TLS certificate verifier refused: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// The server's certificate chain does not contain the CA pinned by the token.
    #[error(
        "the server's CA does not match the token's pin: no certificate the server sent \
         has a public key whose SHA-256 is {pin}; check the token's coordinator address, \
         or ask the operator for a new token"
    )]
    PinMismatch {
        /// The pin, hex.
        pin: String,
    },

    /// A token does not start with a `gpes-enroll-` prefix at all.
    #[error(
        "this is not a GPES enrollment token: it should start with `{expected}`; copy the whole token again"
    )]
    TokenPrefix {
        /// The expected prefix.
        expected: &'static str,
    },

    /// A token of a version this build does not read.
    #[error(
        "enrollment token version {found:?} is not supported (this agent reads `{expected}`); \
         use an agent of the same release as the coordinator"
    )]
    TokenVersion {
        /// The version found.
        found: String,
        /// The prefix this build reads.
        expected: &'static str,
    },

    /// The token's body is not base64url without padding.
    #[error("the enrollment token is damaged (not base64url: {0}); copy the whole token again")]
    TokenBase64(String),

    /// The token's body is not a JSON object.
    #[error("the enrollment token is damaged (not a JSON object: {0}); copy the whole token again")]
    TokenJson(String),

    /// The token has a field this build does not know.
    #[error(
        "the enrollment token has an unknown field `{0}`; it was made by a different \
         release of the coordinator; use an agent of the same release"
    )]
    TokenUnknownField(String),

    /// The token lacks a field.
    #[error(
        "the enrollment token has no `{0}` field; copy the whole token again, or ask for a new one"
    )]
    TokenMissingField(&'static str),

    /// A token field has the wrong type or an invalid value.
    #[error("the enrollment token's `{field}` is invalid: {reason}")]
    TokenField {
        /// The field.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// The token's expiry is in the past.
    #[error(
        "the enrollment token expired at {expires_at} (unix seconds); ask the operator for a new one"
    )]
    TokenExpired {
        /// Its expiry, unix seconds.
        expires_at: u64,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// The crate's result type.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

impl PkiError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| PkiError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn generate(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| PkiError::Generate { what, source }
    }
}
