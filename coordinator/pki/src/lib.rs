//! The coordinator's CA, agent enrollment tokens and certificates, and the TLS configurations built on them.
