//! Tests of gpes-canon: the RFC 8785 examples, ECMAScript number formatting,
//! refusals, idempotence and content hashes.

mod hash;
mod numbers;
mod refusals;
mod rfc8785;
mod serialize;
