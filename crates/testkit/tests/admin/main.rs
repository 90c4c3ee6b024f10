//! Superuser administration and the audit log against the real services (api.md §5.7, §5.8): the
//! console login, every tenant, assumed identities and the tenant audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod assume;
mod audit;
mod login;
mod support;
mod tenants;
