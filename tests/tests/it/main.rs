//! End-to-end suites: real coordinators and agents, real TLS, real sled.

mod durability;
mod e2e;
mod formats;
mod independent;
mod refusals;
mod scheduler;
mod store;
mod support;
