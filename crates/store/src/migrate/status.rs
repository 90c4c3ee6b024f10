//! `tenantry migrate status`: the public version, a histogram of tenant schema versions and the
//! schemas whose last migration attempt failed. Read from the summary table, so it is cheap.

use std::fmt;

use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::StoreError;
use crate::migrate::public::latest_public_version;
use crate::migrate::tenant::TenantMigrations;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCount {
    pub version: i64,
    pub schemas: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub schema_name: String,
    pub version: i64,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Highest successfully applied public migration; `None` on an unmigrated database.
    pub public_version: Option<i64>,
    /// Highest public migration embedded in this binary.
    pub public_target: i64,
    /// Highest tenant migration embedded in this binary.
    pub tenant_target: i64,
    /// Live tenants per summary version, ascending.
    pub tenant_versions: Vec<VersionCount>,
    /// Live tenants (ready or provisioning) with a schema but no summary row yet.
    pub untracked_schemas: i64,
    /// Live tenants whose last attempt failed, by schema name.
    pub errors: Vec<SchemaError>,
}

pub async fn migration_status(pool: &PgPool) -> Result<StatusReport, StoreError> {
    let ledger_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let public_version: Option<i64> = if ledger_exists {
        sqlx::query_scalar("SELECT max(version) FROM public._sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?
    } else {
        None
    };

    let mut report = StatusReport {
        public_version,
        public_target: latest_public_version(),
        tenant_target: TenantMigrations::embedded().latest_version(),
        tenant_versions: Vec::new(),
        untracked_schemas: 0,
        errors: Vec::new(),
    };
    // Without the public tables there is nothing more to report.
    let tables_exist: bool =
        sqlx::query_scalar("SELECT to_regclass('public.tenant_schema_versions') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !tables_exist {
        return Ok(report);
    }

    report.tenant_versions = sqlx::query_as::<_, (i64, i64)>(
        "SELECT v.version, count(*) \
         FROM public.tenant_schema_versions AS v \
         JOIN public.tenants AS t ON t.id = v.tenant_id \
         WHERE t.deleted_at IS NULL \
         GROUP BY v.version \
         ORDER BY v.version",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(version, schemas)| VersionCount { version, schemas })
    .collect();

    report.untracked_schemas = sqlx::query_scalar(
        "SELECT count(*) \
         FROM public.tenants AS t \
         JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.schema_name \
         WHERE t.deleted_at IS NULL \
           AND t.status IN ('ready', 'provisioning') \
           AND NOT EXISTS (SELECT 1 FROM public.tenant_schema_versions AS v WHERE v.tenant_id = t.id)",
    )
    .fetch_one(pool)
    .await?;

    report.errors = sqlx::query_as::<_, (String, i64, Option<OffsetDateTime>, String)>(
        "SELECT v.schema_name, v.version, v.last_attempt_at, v.last_error \
         FROM public.tenant_schema_versions AS v \
         JOIN public.tenants AS t ON t.id = v.tenant_id \
         WHERE t.deleted_at IS NULL AND v.last_error IS NOT NULL \
         ORDER BY v.schema_name",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(
        |(schema_name, version, last_attempt_at, last_error)| SchemaError {
            schema_name,
            version,
            last_attempt_at,
            last_error,
        },
    )
    .collect();

    Ok(report)
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.public_version {
            Some(version) => writeln!(
                f,
                "public schema: v{version} (binary v{})",
                self.public_target
            )?,
            None => writeln!(
                f,
                "public schema: not migrated (binary v{})",
                self.public_target
            )?,
        }
        writeln!(f, "tenant schemas (target v{}):", self.tenant_target)?;
        if self.tenant_versions.is_empty() && self.untracked_schemas == 0 {
            writeln!(f, "  none")?;
        }
        for VersionCount { version, schemas } in &self.tenant_versions {
            writeln!(f, "  v{version}: {schemas}")?;
        }
        if self.untracked_schemas > 0 {
            writeln!(f, "  never migrated: {}", self.untracked_schemas)?;
        }
        writeln!(f, "schemas with errors: {}", self.errors.len())?;
        for error in &self.errors {
            let at = error
                .last_attempt_at
                .and_then(|at| at.format(&Rfc3339).ok())
                .unwrap_or_else(|| "unknown".to_owned());
            writeln!(
                f,
                "  {} v{} (last attempt {at}): {}",
                error.schema_name,
                error.version,
                error.last_error.replace(['\n', '\r'], " ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_section() {
        let report = StatusReport {
            public_version: Some(4),
            public_target: 4,
            tenant_target: 2,
            tenant_versions: vec![
                VersionCount {
                    version: 1,
                    schemas: 3,
                },
                VersionCount {
                    version: 2,
                    schemas: 7,
                },
            ],
            untracked_schemas: 1,
            errors: vec![SchemaError {
                schema_name: "tenant_acme".into(),
                version: 1,
                last_attempt_at: Some(OffsetDateTime::UNIX_EPOCH),
                last_error: "boom".into(),
            }],
        };
        assert_eq!(
            report.to_string(),
            "public schema: v4 (binary v4)\n\
             tenant schemas (target v2):\n  v1: 3\n  v2: 7\n  never migrated: 1\n\
             schemas with errors: 1\n  tenant_acme v1 (last attempt 1970-01-01T00:00:00Z): boom\n"
        );
    }
}
