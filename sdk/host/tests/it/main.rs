//! The host's integration tests: real wasmtime, real guests built from the
//! current sources by `plugins/artifacts`, real files in temporary folders.

mod cache;
mod common;
mod extraction;
mod fhir;
mod fingerprint;
mod misbehaviour;
mod patient_json;
mod python;
mod queries;
mod signing;
