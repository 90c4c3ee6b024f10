//! Jobs-queue workflows against the real services: the TokenCleanup schedule and retention runs, the
//! registration reaper and UserOnboarding (workflows.md §4.3, §4.5; data-model.md §6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cleanup;
mod common;
mod onboarding;
mod reaper;
mod schedule;
