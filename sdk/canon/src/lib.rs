//! RFC 8785 canonical JSON and content hashes.
