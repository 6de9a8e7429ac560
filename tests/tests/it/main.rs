//! End-to-end suites: real coordinators and agents, real TLS, real sled.

mod agents;
mod audit;
mod compat;
mod declarations;
mod durability;
mod e2e;
mod formats;
mod hardening;
mod independent;
mod lifecycle;
mod openapi;
mod participation;
mod permissions;
mod process;
mod queries;
mod refusals;
mod registry;
mod replicas;
mod runs;
mod scheduler;
mod store;
mod support;
mod users;
