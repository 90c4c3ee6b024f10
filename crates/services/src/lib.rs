//! Tenantry's use cases. Services own transactions and business rules; handlers and workflow activities
//! call them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod email;
pub mod health;
pub mod outbox;
