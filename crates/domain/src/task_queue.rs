//! Temporal task-queue routing (workflows.md §1.1).

use std::fmt;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::validation::FieldError;

pub const DEFAULT_QUEUE_PREFIX: &str = "tenantry";

/// Shard of a tenant: the first 4 bytes of SHA-256 of the lower-case hyphenated id, big-endian, modulo `shards`.
///
/// Stable across processes and releases because the result is stored in outbox rows and workers must agree on it.
/// A shard count of 0 is treated as 1 instead of panicking; [`QueueShards`] rules it out where the count is read.
pub fn tenant_shard(tenant_id: &Uuid, shards: u16) -> u16 {
    let digest = Sha256::digest(tenant_id.hyphenated().to_string().as_bytes());
    let head = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let shard = head % u32::from(shards.max(1));
    // The remainder is below a u16 divisor.
    u16::try_from(shard).unwrap_or(0)
}

/// `<prefix>.tenant.<NN>`
pub fn tenant_queue(prefix: &str, shard: u16) -> String {
    format!("{prefix}.tenant.{shard:02}")
}

/// `<prefix>.jobs.00`
pub fn jobs_queue(prefix: &str) -> String {
    format!("{prefix}.jobs.00")
}

/// `TEMPORAL_QUEUE_SHARDS`: 1..=100, so `NN` always fits two digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueShards(u16);

impl QueueShards {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 100;

    /// Errors name field `TEMPORAL_QUEUE_SHARDS`, code `out_of_range`.
    pub fn new(n: u16) -> Result<QueueShards, FieldError> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(QueueShards(n))
        } else {
            Err(FieldError::out_of_range(
                "TEMPORAL_QUEUE_SHARDS",
                Self::MIN,
                Self::MAX,
            ))
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }

    pub fn shard_of(self, tenant_id: &Uuid) -> u16 {
        tenant_shard(tenant_id, self.0)
    }

    pub fn tenant_queue_for(self, prefix: &str, tenant_id: &Uuid) -> String {
        tenant_queue(prefix, self.shard_of(tenant_id))
    }

    /// Every tenant queue a worker polling all shards must listen on.
    pub fn all_tenant_queues(self, prefix: &str) -> Vec<String> {
        (0..self.0)
            .map(|shard| tenant_queue(prefix, shard))
            .collect()
    }
}

impl Default for QueueShards {
    fn default() -> Self {
        QueueShards(1)
    }
}

impl fmt::Display for QueueShards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_values() {
        let id = Uuid::parse_str("0190B2A4-7C3E-7D1A-9F00-123456789ABC").unwrap();
        // Reference values computed independently (Python hashlib over the lower-case text).
        assert_eq!(tenant_shard(&id, 7), 3);
        assert_eq!(tenant_shard(&id, 100), 52);
        assert_eq!(tenant_shard(&Uuid::nil(), 16), 12);
        assert_eq!(tenant_shard(&id, 1), 0);
        assert_eq!(tenant_shard(&id, 0), 0);
    }

    #[test]
    fn queue_names() {
        assert_eq!(tenant_queue("tenantry", 0), "tenantry.tenant.00");
        assert_eq!(tenant_queue("p", 7), "p.tenant.07");
        assert_eq!(tenant_queue("p", 99), "p.tenant.99");
        assert_eq!(jobs_queue(DEFAULT_QUEUE_PREFIX), "tenantry.jobs.00");
        let shards = QueueShards::default();
        assert_eq!(
            shards.tenant_queue_for("tenantry", &Uuid::now_v7()),
            "tenantry.tenant.00"
        );
        assert_eq!(
            QueueShards::new(3).unwrap().all_tenant_queues("t"),
            ["t.tenant.00", "t.tenant.01", "t.tenant.02"]
        );
    }

    #[test]
    fn shard_count_bounds() {
        assert!(QueueShards::new(1).is_ok() && QueueShards::new(100).is_ok());
        let e = QueueShards::new(0).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (crate::ErrorCode::OutOfRange, "Must be between 1 and 100")
        );
        assert!(QueueShards::new(101).is_err());
    }

    proptest! {
        #[test]
        fn shard_is_in_range(id in any::<u128>(), n in 1u16..=100) {
            let shard = tenant_shard(&Uuid::from_u128(id), n);
            prop_assert!(shard < n);
        }
    }
}
