//! Members and invites of a tenant against the real services (api.md §5.4–§5.5): the last-admin rule
//! under concurrency, session revocation, invite lifecycle and the public accept flow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invites;
mod members;
/// The accounts fixtures: a ready tenant with a verified admin, logins, bearer requests.
#[allow(dead_code)]
#[path = "../accounts/support.rs"]
mod support;
