//! No code. This crate only depends: on the dependencies under wasmtime,
//! with the features a build of the whole workspace gives them (see its
//! Cargo.toml and `scripts/check-features.py`), so that `cargo build -p
//! gpes-plugin-tool` after `cargo build` does not compile wasmtime again.
