//! Accounts and sessions against the real services (api.md §1, §5.1–§5.2): login, refresh families,
//! verification, password reset and change, sessions and the per-endpoint rate limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bearer;
mod limits;
mod login;
mod passwords;
mod profile;
mod refresh;
mod refresh_model;
mod sessions;
mod support;
mod verification;
