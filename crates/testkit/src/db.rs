//! A fresh database per test, cloned from a template migrated once per migration set (across processes:
//! nextest runs each test in its own process).

use sha2::{Digest, Sha256};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

const TEMPLATE_LOCK: i64 = 74_002;

pub fn admin_url() -> String {
    std::env::var("TENANTRY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `database` on the server of the admin URL `admin`.
fn url_for(admin: &str, database: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

/// The template's name changes whenever a public migration changes, so a stale template is never used.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    for m in tenantry_store::PUBLIC_MIGRATOR.iter() {
        hasher.update(m.version.to_be_bytes());
        hasher.update(&m.checksum);
    }
    format!(
        "tenantry_template_{}",
        &hex::encode(hasher.finalize())[..12]
    )
}

async fn ensure_template(admin_url: &str, admin: &mut PgConnection) -> anyhow::Result<String> {
    let name = template_name();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await?;
    let result = async {
        let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut *admin)
            .await?;
        if exists.is_none() {
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut *admin)
                .await?;
            let pool = tenantry_store::connect(&url_for(admin_url, &name), 2).await?;
            let migrated = tenantry_store::migrate_public(&pool).await;
            // A template must have no open connections while it is copied.
            pool.close().await;
            if let Err(e) = migrated {
                sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                    .execute(&mut *admin)
                    .await?;
                return Err(anyhow::Error::from(e));
            }
        }
        Ok(name.clone())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await?;
    result
}

pub struct TestDatabase {
    pub name: String,
    pub url: String,
    /// The `postgres` database of the server this one lives on.
    admin_url: String,
    dropped: bool,
}

impl TestDatabase {
    /// A fresh database on the server of [`admin_url`].
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_on(&admin_url()).await
    }

    /// A fresh database on another server, given by the URL of its `postgres` database (e.g. a private
    /// cluster a fault test stops and starts).
    pub async fn create_on(admin_url: &str) -> anyhow::Result<Self> {
        let mut admin = PgConnection::connect(admin_url).await?;
        let template = ensure_template(admin_url, &mut admin).await?;
        let name = format!("tenantry_t_{}", uuid::Uuid::now_v7().simple());
        // Concurrent clones of one template can collide on its lock; a short retry settles it.
        let mut attempt = 0;
        loop {
            let created = sqlx::query(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .execute(&mut admin)
            .await;
            match created {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    tracing::debug!(error = %e, "template busy; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        admin.close().await?;
        Ok(Self {
            url: url_for(admin_url, &name),
            name,
            admin_url: admin_url.to_owned(),
            dropped: false,
        })
    }

    /// This database on another server address of the same cluster (e.g. a pooler in front of it), given by
    /// the URL of its `postgres` database there.
    pub fn url_on(&self, server: &str) -> String {
        url_for(server, &self.name)
    }

    pub async fn drop_now(&mut self) {
        if self.dropped {
            return;
        }
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
        self.dropped = true;
    }
}
