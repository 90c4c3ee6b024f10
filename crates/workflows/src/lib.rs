//! Tenantry on Temporal: the client, the outbox's starter, workflows, activities and workers.
//! Type and activity names are explicit constants of the contract (workflows.md), never the SDK's
//! defaults, so histories stay readable across refactors and languages.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod activities;
pub mod billing;
pub mod client;
pub mod failure;
pub mod health_server;
pub mod options;
pub mod probe;
pub mod schedule;
pub mod starter;
pub mod worker;
pub mod workflows;

pub use client::TemporalConnection;
pub use probe::TemporalProbe;
pub use starter::TemporalStarter;
