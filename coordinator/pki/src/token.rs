//! Enrollment tokens: one copyable string that tells a new agent where the
//! coordinator is, which CA to trust there, and a one-time secret.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::{DnsName, ServerName};
use serde_json::{Map, Value};

use crate::ca::CertificateAuthority;
use crate::error::{PkiError, Result};
use crate::util;

/// What every token of this version starts with; the base64url (no
/// padding) JSON body follows.
pub const TOKEN_PREFIX: &str = "gpes-enroll-v1.";

/// Common to every version's prefix: `gpes-enroll-v<N>.`.
const TOKEN_FAMILY: &str = "gpes-enroll-";

/// Bytes of randomness in a secret.
pub const SECRET_BYTES: usize = 32;

const FIELDS: [&str; 4] = ["coordinator", "secret", "expires_at", "ca_spki_sha256"];

/// An enrollment token.
///
/// The JSON body is an object with exactly these four fields. The
/// coordinator keeps only [`hash_secret`] of `secret`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnrollmentToken {
    /// The coordinator's operator listener, `host:port` (`[v6]:port` for an
    /// IPv6 address).
    pub coordinator: String,
    /// The one-time secret: [`SECRET_BYTES`] or more random bytes, base64url
    /// without padding.
    pub secret: String,
    /// When the token stops being accepted, unix seconds.
    pub expires_at: u64,
    /// SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER), lowercase
    /// hex: the only CA the agent trusts on first contact.
    pub ca_spki_sha256: String,
}

impl fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("coordinator", &self.coordinator)
            .field("secret", &"[elided]")
            .field("expires_at", &self.expires_at)
            .field("ca_spki_sha256", &self.ca_spki_sha256)
            .finish()
    }
}

impl EnrollmentToken {
    /// Makes a token for `coordinator` (`host:port` of the operator
    /// listener) that expires `ttl` from now and pins `ca`. Returns the
    /// token and the hash of its secret, which is all the coordinator
    /// should store.
    pub fn generate(
        coordinator: &str,
        ttl: Duration,
        ca: &CertificateAuthority,
    ) -> Result<(Self, String)> {
        parse_address(coordinator)?;
        let secret = URL_SAFE_NO_PAD.encode(util::random_bytes::<SECRET_BYTES>()?);
        let secret_hash = hash_secret(&secret);
        let token = Self {
            coordinator: coordinator.to_owned(),
            secret,
            expires_at: util::now_unix().saturating_add(ttl.as_secs()),
            ca_spki_sha256: ca.spki_sha256_hex(),
        };
        Ok((token, secret_hash))
    }

    /// The copyable string: [`TOKEN_PREFIX`] then base64url (no padding) of
    /// the JSON object.
    pub fn encode(&self) -> String {
        let json = serde_json::json!({
            "coordinator": self.coordinator,
            "secret": self.secret,
            "expires_at": self.expires_at,
            "ca_spki_sha256": self.ca_spki_sha256,
        });
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json.to_string()))
    }

    /// Reads a token, tolerating surrounding whitespace. Each way a token
    /// can be wrong has its own error: prefix, version, base64, JSON,
    /// unknown field, missing field, invalid field value. Does not check
    /// expiry (see [`Self::check_not_expired`]).
    pub fn decode(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some(body) = text.strip_prefix(TOKEN_PREFIX) else {
            return Err(match text.strip_prefix(TOKEN_FAMILY) {
                Some(rest) => PkiError::TokenVersion {
                    found: rest
                        .split('.')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(16)
                        .collect(),
                    expected: TOKEN_PREFIX,
                },
                None => PkiError::TokenPrefix {
                    expected: TOKEN_PREFIX,
                },
            });
        };
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| PkiError::TokenBase64(e.to_string()))?;
        let value: Value =
            serde_json::from_slice(&json).map_err(|e| PkiError::TokenJson(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(PkiError::TokenJson(
                "the body is JSON but not an object".into(),
            ));
        };
        if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(PkiError::TokenUnknownField(unknown.clone()));
        }
        let token = Self {
            coordinator: string_field(&map, "coordinator")?,
            secret: string_field(&map, "secret")?,
            expires_at: match field(&map, "expires_at")? {
                Value::Number(n) => n.as_u64().ok_or_else(|| PkiError::TokenField {
                    field: "expires_at",
                    reason: format!("{n} is not unix seconds (a non-negative integer)"),
                })?,
                _ => {
                    return Err(PkiError::TokenField {
                        field: "expires_at",
                        reason: "expected unix seconds (a number)".into(),
                    });
                }
            },
            ca_spki_sha256: string_field(&map, "ca_spki_sha256")?,
        };
        token.validate()?;
        Ok(token)
    }

    fn validate(&self) -> Result<()> {
        parse_address(&self.coordinator)?;
        let secret = URL_SAFE_NO_PAD
            .decode(&self.secret)
            .map_err(|e| PkiError::TokenField {
                field: "secret",
                reason: format!("not base64url without padding ({e})"),
            })?;
        if secret.len() < SECRET_BYTES {
            return Err(PkiError::TokenField {
                field: "secret",
                reason: format!(
                    "{} bytes; at least {SECRET_BYTES} are required",
                    secret.len()
                ),
            });
        }
        self.ca_pin()?;
        Ok(())
    }

    /// Whether the token has expired at `now` (unix seconds): it is valid
    /// strictly before `expires_at`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// [`Self::is_expired`] as an error.
    pub fn check_not_expired(&self, now: u64) -> Result<()> {
        if self.is_expired(now) {
            Err(PkiError::TokenExpired {
                expires_at: self.expires_at,
            })
        } else {
            Ok(())
        }
    }

    /// The pinned CA's SPKI SHA-256 as bytes.
    pub fn ca_pin(&self) -> Result<[u8; 32]> {
        util::parse_sha256_hex(&self.ca_spki_sha256).ok_or_else(|| PkiError::TokenField {
            field: "ca_spki_sha256",
            reason: "expected 64 hex digits (a SHA-256)".into(),
        })
    }

    /// The TLS server name to use when connecting to `coordinator`.
    pub fn server_name(&self) -> Result<ServerName<'static>> {
        parse_address(&self.coordinator)
    }

    /// Checks that `ca_pem` (one certificate, e.g. as returned by the
    /// coordinator on enrollment, to be stored by the agent) is the pinned CA.
    pub fn verify_ca_pem(&self, ca_pem: &str) -> Result<()> {
        let der = util::one_cert_from_pem("the CA certificate", ca_pem)?;
        let spki = util::cert_spki_sha256("the CA certificate", &der)?;
        if util::digests_equal(&spki, &self.ca_pin()?) {
            Ok(())
        } else {
            Err(PkiError::PinMismatch {
                pin: self.ca_spki_sha256.clone(),
            })
        }
    }
}

fn field<'a>(map: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value> {
    map.get(name).ok_or(PkiError::TokenMissingField(name))
}

fn string_field(map: &Map<String, Value>, name: &'static str) -> Result<String> {
    match field(map, name)? {
        Value::String(s) => Ok(s.clone()),
        _ => Err(PkiError::TokenField {
            field: name,
            reason: "expected a string".into(),
        }),
    }
}

/// Checks `host:port` (`[v6]:port` for IPv6) and returns the host as a TLS
/// server name.
fn parse_address(address: &str) -> Result<ServerName<'static>> {
    let invalid = |reason: &str| PkiError::TokenField {
        field: "coordinator",
        reason: format!("{address:?} is not host:port ({reason})"),
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
    match port.parse::<u16>() {
        Ok(p) if p != 0 => {}
        _ => return Err(invalid("the port is not a number from 1 to 65535")),
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| invalid("bad IPv6 address"))?;
        return Ok(ServerName::from(IpAddr::V6(ip)));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(_) => Ok(ServerName::from(ip)),
            IpAddr::V6(_) => Err(invalid("an IPv6 address needs brackets: [addr]:port")),
        };
    }
    DnsName::try_from(host)
        .map(|name| ServerName::DnsName(name.to_owned()))
        .map_err(|_| invalid("the host is neither an IP address nor a DNS name"))
}

/// What the coordinator stores for a token's secret: SHA-256 of the secret
/// string, lowercase hex. (The secret is 256 random bits, so no salt or
/// slow hash is needed.)
pub fn hash_secret(secret: &str) -> String {
    hex::encode(util::sha256(secret.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash_hex`, compared in constant
/// time. A malformed stored hash matches nothing.
pub fn secret_matches(presented: &str, stored_hash_hex: &str) -> bool {
    let Some(stored) = util::parse_sha256_hex(stored_hash_hex) else {
        return false;
    };
    util::digests_equal(&util::sha256(presented.as_bytes()), &stored)
}
