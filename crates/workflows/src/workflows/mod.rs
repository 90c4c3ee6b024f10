//! Workflow definitions (workflows.md §4). Type names are explicit and never change meaning.

pub mod cleanup;
pub mod deletion;
pub mod onboarding;
pub mod provisioning;
pub mod send_email;
