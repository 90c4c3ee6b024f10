//! Registration and durable provisioning against the real services (issue: provisioning).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod activities;
mod admin_tenants;
mod common;
mod deletion;
mod failures;
mod registration;
