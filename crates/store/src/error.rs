//! The store's error type and the SQLSTATE classification that callers map to HTTP statuses
//! (409/422/503) and to Temporal retry policies (workflows.md §3).

use sqlx::migrate::MigrateError as SqlxMigrateError;

/// Errors surfaced by the store outside tenant migrations (those use [`crate::migrate::MigrateError`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("public migration error: {0}")]
    PublicMigration(#[from] SqlxMigrateError),

    /// The database lacks a public migration this binary was built with (data-model.md §2.14):
    /// `serve` and `worker` refuse to start on it.
    #[error(
        "public migrations are behind this binary: version {version} ({description}) is not applied; \
         run `tenantry migrate public`"
    )]
    PublicMigrationsBehind { version: i64, description: String },

    /// An applied public migration differs from the file embedded in this binary.
    #[error("public migration {version} ({description}) was modified after it was applied")]
    PublicMigrationModified { version: i64, description: String },

    #[error("invalid migration set: {0}")]
    InvalidMigrationSet(String),

    #[error("invalid option: {0}")]
    InvalidOption(String),
}

impl StoreError {
    /// The underlying driver error, when there is one.
    pub fn as_sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Database(e) => Some(e),
            StoreError::PublicMigration(SqlxMigrateError::Execute(e)) => Some(e),
            StoreError::PublicMigration(SqlxMigrateError::ExecuteMigration(e, _)) => Some(e),
            _ => None,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        self.as_sqlx().is_some_and(is_unique_violation)
    }

    pub fn is_foreign_key_violation(&self) -> bool {
        self.as_sqlx().is_some_and(is_foreign_key_violation)
    }

    pub fn is_transient(&self) -> bool {
        self.as_sqlx().is_some_and(is_transient)
    }

    pub fn is_unavailable(&self) -> bool {
        self.as_sqlx().is_some_and(is_unavailable)
    }

    pub fn constraint_name(&self) -> Option<&str> {
        self.as_sqlx().and_then(constraint_name)
    }

    pub fn sqlstate(&self) -> Option<String> {
        self.as_sqlx().and_then(sqlstate)
    }
}

/// SQLSTATE of a database error (`None` for driver-side errors such as pool timeouts).
pub fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

fn has_code(err: &sqlx::Error, code: &str) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|c| c == code)
}

/// 23505. For "insert if absent" paths this means "already done", never an error.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    has_code(err, "23505")
}

/// 23503. A real error: the referenced row is gone (`ReferenceMissing` in workflows).
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    has_code(err, "23503")
}

/// Name of the violated constraint or unique index, e.g. `uq_users_email`, `uq_tenant_invites_pending`.
pub fn constraint_name(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|db| db.constraint())
}

/// `0A000 cached plan must not change result type`: a prepared statement outlived a schema change
/// (tenant schemas at different versions during a rollout). Retrying once re-prepares it.
pub fn is_cached_plan_invalidated(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| {
        db.code().is_some_and(|c| c == "0A000")
            && db
                .message()
                .contains("cached plan must not change result type")
    })
}

/// Errors worth retrying unchanged: connection loss, serialization failures and deadlocks, lock and
/// statement timeouts, server shutdown, stale cached plans, pool exhaustion and IO errors.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03"
                )
                || is_cached_plan_invalidated(err)
        }
        _ => false,
    }
}

/// "Database unreachable or pool exhausted": the API answers 503 with `Retry-After: 1`.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                // admin/crash shutdown, server starting up, too many connections
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_side_errors_are_classified() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_transient(&io));
        assert!(is_unavailable(&io));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(!is_unique_violation(&sqlx::Error::RowNotFound));
        assert_eq!(constraint_name(&sqlx::Error::RowNotFound), None);
        let wrapped = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(wrapped.is_unavailable());
        assert!(!StoreError::InvalidOption("x".into()).is_transient());
    }
}
