//! Tenant workspace data against the real services: projects in the tenant's own schema (api.md §5.6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_catalogue;
mod isolation;
mod projects;
mod projects_support;
