//! Nothing to build: present so that the build-dependencies (the features
//! asked for code run at build time) are part of the build.
fn main() {}
