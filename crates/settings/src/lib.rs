//! Tenantry's configuration: every variable of the contract, read once from the environment into one
//! typed, validated [`Settings`]. Anything invalid is refused at start with the variable's name, so a
//! misconfigured process never half-runs.

mod parse;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

pub use parse::SettingsError;
use parse::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }

    /// Development and test expose the mailbox and store plaintext one-time tokens for it.
    pub fn is_dev_like(self) -> bool {
        !matches!(self, Self::Production)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailBackend {
    Mailbox,
    Smtp,
}

/// What sits between Tenantry and PostgreSQL on `DATABASE_URL` (`DATABASE_POOLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabasePooler {
    /// `DATABASE_URL` is PostgreSQL itself, or a session-mode pooler (the default).
    None,
    /// A transaction-mode pooler (PgBouncer `pool_mode = transaction`): every statement runs inside a
    /// transaction, prepared statements never outlive one, and the session features (LISTEN, advisory
    /// locks, migrations) use `DATABASE_DIRECT_URL`.
    Transaction,
}

impl DatabasePooler {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Transaction => "transaction",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dependency {
    Database,
    Temporal,
    Redis,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Temporal => "temporal",
            Self::Redis => "redis",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Test-only fault hooks. Refused in production so no deployment can carry them.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// Activity name → extra time the activity sleeps before doing its work, so a crash test can
    /// SIGKILL a worker while that step is running.
    pub activity_delays: HashMap<String, Duration>,
    /// Appends a tenant migration that fails, after the real ones, to exercise provisioning compensation.
    pub fail_tenant_migration: bool,
}

impl TestHooks {
    pub fn is_empty(&self) -> bool {
        self.activity_delays.is_empty() && !self.fail_tenant_migration
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: SocketAddr,
    pub app_env: AppEnv,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub database_pooler: DatabasePooler,
    /// PostgreSQL itself, for what needs a session (LISTEN, session advisory locks, migrations) when
    /// `DATABASE_URL` is a transaction-mode pooler; required then, unused otherwise.
    pub database_direct_url: Option<SecretString>,
    /// Size of the pool on `DATABASE_DIRECT_URL` (each LISTEN holds one connection of it).
    pub database_direct_max_connections: u32,
    pub redis_url: Option<SecretString>,
    pub temporal_host: String,
    pub temporal_namespace: String,
    pub jwt_secret_key: SecretString,
    pub jwt_issuer: String,
    pub access_token_expire_minutes: u32,
    pub refresh_token_expire_days: u32,
    pub refresh_family_max_days: u32,
    pub refresh_reuse_grace_seconds: u32,
    pub assumed_identity_expire_minutes: u32,
    pub email_verification_expire_hours: u32,
    pub password_reset_expire_minutes: u32,
    pub invite_expire_days: u32,
    pub registration_claim_days: u32,
    pub argon2: Argon2Params,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<IpNet>,
    pub cors_origins: Vec<String>,
    pub rate_limit_enabled: bool,
    pub global_rate_limit_per_second: u32,
    pub global_rate_limit_burst: u32,
    /// Prefix of rate-limit keys in Redis, so several deployments (or tests) can share one Redis.
    pub rate_limit_key_prefix: String,
    pub idempotency_ttl_hours: u32,
    pub ready_requires: BTreeSet<Dependency>,
    pub metrics_api_key: Option<SecretString>,
    pub enable_openapi: bool,
    pub app_url: String,
    pub app_name: String,
    pub email_from: String,
    pub email_backend: EmailBackend,
    pub smtp_url: Option<SecretString>,
    pub shutdown_grace_period: Duration,
    pub log_user_emails: bool,
    pub log_format: LogFormat,
    pub outbox_relay_enabled: bool,
    pub temporal_queue_prefix: String,
    pub temporal_queue_shards: u16,
    pub worker_health_port: u16,
    pub worker_shutdown_grace: Duration,
    pub cleanup_schedule: String,
    pub cleanup_retention_days: u32,
    pub audit_retention_days: u32,
    /// Initial and maximum retry interval of activities. The contract's defaults (1 s, 30 s) apply;
    /// tests shorten them because the dev server has no time skipping.
    pub activity_retry_initial: Duration,
    pub activity_retry_max: Duration,
    pub test_hooks: TestHooks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Settings {
    /// Reads the process environment (after an optional `.env`, which never overrides real variables).
    pub fn from_env() -> Result<Self, SettingsError> {
        // A missing .env is normal; a malformed one is the operator's to see.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(SettingsError::new(".env", format!("cannot be read: {e}")));
            }
        }
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Result<Self, SettingsError> {
        let src = Source::new(vars);
        let app_env = match src.choice(
            "APP_ENV",
            "development",
            &["development", "test", "production"],
        )? {
            "test" => AppEnv::Test,
            "production" => AppEnv::Production,
            _ => AppEnv::Development,
        };

        let jwt_secret_key = src.required_secret("JWT_SECRET_KEY")?;
        if jwt_secret_key.expose_secret().len() < 32 {
            return Err(SettingsError::new(
                "JWT_SECRET_KEY",
                "must be at least 32 bytes",
            ));
        }

        let cors_origins = src.list("CORS_ORIGINS", "http://localhost:3000");
        if cors_origins.iter().any(|o| o == "*") {
            return Err(SettingsError::new(
                "CORS_ORIGINS",
                "'*' is refused: list the allowed origins (credentials are allowed)",
            ));
        }

        let email_backend = match src.choice("EMAIL_BACKEND", "mailbox", &["mailbox", "smtp"])? {
            "smtp" => EmailBackend::Smtp,
            _ => EmailBackend::Mailbox,
        };
        if app_env == AppEnv::Production && email_backend == EmailBackend::Mailbox {
            return Err(SettingsError::new(
                "EMAIL_BACKEND",
                "'mailbox' is refused in production: configure smtp",
            ));
        }
        let smtp_url = src.optional_secret("SMTP_URL");
        if email_backend == EmailBackend::Smtp && smtp_url.is_none() {
            return Err(SettingsError::new(
                "SMTP_URL",
                "is required when EMAIL_BACKEND=smtp",
            ));
        }

        let password_reset_expire_minutes =
            src.number("PASSWORD_RESET_EXPIRE_MINUTES", 30u32, 1, 60)?;

        let ready_requires = src
            .list("READY_REQUIRES", "database")
            .into_iter()
            .map(|d| match d.as_str() {
                "database" => Ok(Dependency::Database),
                "temporal" => Ok(Dependency::Temporal),
                "redis" => Ok(Dependency::Redis),
                other => Err(SettingsError::new(
                    "READY_REQUIRES",
                    format!("unknown dependency '{other}' (expected database, temporal, redis)"),
                )),
            })
            .collect::<Result<BTreeSet<_>, _>>()?;

        let trusted_proxies = src
            .list("TRUSTED_PROXIES", "")
            .into_iter()
            .map(|p| {
                parse::ip_or_net(&p).ok_or_else(|| {
                    SettingsError::new(
                        "TRUSTED_PROXIES",
                        format!("'{p}' is not an IP address or CIDR"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let database_pooler =
            match src.choice("DATABASE_POOLER", "none", &["none", "transaction"])? {
                "transaction" => DatabasePooler::Transaction,
                _ => DatabasePooler::None,
            };
        let database_direct_url = src.optional_secret("DATABASE_DIRECT_URL");
        if database_pooler == DatabasePooler::Transaction && database_direct_url.is_none() {
            return Err(SettingsError::new(
                "DATABASE_DIRECT_URL",
                "is required when DATABASE_POOLER=transaction: LISTEN, advisory locks and migrations \
                 need a session on PostgreSQL itself",
            ));
        }

        let test_hooks = parse::test_hooks(&src)?;
        if app_env == AppEnv::Production && !test_hooks.is_empty() {
            return Err(SettingsError::new(
                "TENANTRY_TEST_ACTIVITY_DELAYS",
                "test hooks are refused in production",
            ));
        }

        let log_format = match src.choice(
            "LOG_FORMAT",
            if app_env == AppEnv::Production {
                "json"
            } else {
                "pretty"
            },
            &["pretty", "json"],
        )? {
            "json" => LogFormat::Json,
            _ => LogFormat::Pretty,
        };

        let activity_retry_initial =
            Duration::from_millis(src.number("ACTIVITY_RETRY_INITIAL_MS", 1000u64, 1, 60_000)?);
        let activity_retry_max =
            Duration::from_millis(src.number("ACTIVITY_RETRY_MAX_MS", 30_000u64, 1, 3_600_000)?);

        Ok(Self {
            bind_addr: src.parsed("BIND_ADDR", "127.0.0.1:8000")?,
            app_env,
            database_url: src.required_secret("DATABASE_URL")?,
            database_max_connections: src.number("DATABASE_MAX_CONNECTIONS", 20u32, 1, 1000)?,
            database_pooler,
            database_direct_url,
            database_direct_max_connections: src.number(
                "DATABASE_DIRECT_MAX_CONNECTIONS",
                4u32,
                2,
                1000,
            )?,
            redis_url: src.optional_secret("REDIS_URL"),
            temporal_host: src.string("TEMPORAL_HOST", "localhost:7233"),
            temporal_namespace: src.string("TEMPORAL_NAMESPACE", "default"),
            jwt_secret_key,
            jwt_issuer: src.string("JWT_ISSUER", "tenantry"),
            access_token_expire_minutes: src.number(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                15u32,
                1,
                24 * 60,
            )?,
            refresh_token_expire_days: src.number("REFRESH_TOKEN_EXPIRE_DAYS", 7u32, 1, 365)?,
            refresh_family_max_days: src.number("REFRESH_FAMILY_MAX_DAYS", 30u32, 1, 3650)?,
            refresh_reuse_grace_seconds: src.number("REFRESH_REUSE_GRACE_SECONDS", 5u32, 0, 300)?,
            assumed_identity_expire_minutes: src.number(
                "ASSUMED_IDENTITY_EXPIRE_MINUTES",
                15u32,
                1,
                24 * 60,
            )?,
            email_verification_expire_hours: src.number(
                "EMAIL_VERIFICATION_EXPIRE_HOURS",
                24u32,
                1,
                24 * 30,
            )?,
            password_reset_expire_minutes,
            invite_expire_days: src.number("INVITE_EXPIRE_DAYS", 7u32, 1, 365)?,
            registration_claim_days: src.number("REGISTRATION_CLAIM_DAYS", 7u32, 1, 365)?,
            argon2: Argon2Params {
                memory_kib: src.number("ARGON2_MEMORY_KIB", 19_456u32, 8, 4 * 1024 * 1024)?,
                iterations: src.number("ARGON2_ITERATIONS", 2u32, 1, 100)?,
                parallelism: src.number("ARGON2_PARALLELISM", 1u32, 1, 64)?,
            },
            max_body_bytes: src.number("MAX_BODY_BYTES", 65_536usize, 1024, 64 * 1024 * 1024)?,
            trusted_proxies,
            cors_origins,
            rate_limit_enabled: src.boolean("RATE_LIMIT_ENABLED", app_env != AppEnv::Test)?,
            global_rate_limit_per_second: src.number(
                "GLOBAL_RATE_LIMIT_PER_SECOND",
                20u32,
                1,
                1_000_000,
            )?,
            global_rate_limit_burst: src.number("GLOBAL_RATE_LIMIT_BURST", 50u32, 1, 1_000_000)?,
            rate_limit_key_prefix: src.string("RATE_LIMIT_KEY_PREFIX", "tenantry:rl:"),
            idempotency_ttl_hours: src.number("IDEMPOTENCY_TTL_HOURS", 24u32, 1, 24 * 30)?,
            ready_requires,
            metrics_api_key: src.optional_secret("METRICS_API_KEY"),
            enable_openapi: src.boolean("ENABLE_OPENAPI", true)?,
            app_url: src
                .string("APP_URL", "http://localhost:3000")
                .trim_end_matches('/')
                .to_owned(),
            app_name: src.string("APP_NAME", "Tenantry"),
            email_from: src.string("EMAIL_FROM", "noreply@example.com"),
            email_backend,
            smtp_url,
            shutdown_grace_period: Duration::from_secs(src.number(
                "SHUTDOWN_GRACE_PERIOD",
                30u64,
                0,
                3600,
            )?),
            log_user_emails: src.boolean("LOG_USER_EMAILS", false)?,
            log_format,
            outbox_relay_enabled: src.boolean("OUTBOX_RELAY_ENABLED", true)?,
            temporal_queue_prefix: parse::queue_prefix(&src)?,
            temporal_queue_shards: src.number("TEMPORAL_QUEUE_SHARDS", 1u16, 1, 100)?,
            worker_health_port: src.number("WORKER_HEALTH_PORT", 8001u16, 0, u16::MAX)?,
            worker_shutdown_grace: Duration::from_secs(src.number(
                "WORKER_SHUTDOWN_GRACE_SECONDS",
                30u64,
                0,
                3600,
            )?),
            cleanup_schedule: src.string("CLEANUP_SCHEDULE", "17 3 * * *"),
            cleanup_retention_days: src.number("CLEANUP_RETENTION_DAYS", 30u32, 1, 3650)?,
            audit_retention_days: src.number("AUDIT_RETENTION_DAYS", 365u32, 0, 36_500)?,
            activity_retry_initial,
            activity_retry_max: activity_retry_max.max(activity_retry_initial),
            test_hooks,
        })
    }

    /// Settings for tests and tools: the contract's defaults plus the required variables.
    pub fn for_tests(database_url: &str) -> Result<Self, SettingsError> {
        let mut vars = HashMap::new();
        vars.insert("APP_ENV".to_owned(), "test".to_owned());
        vars.insert("DATABASE_URL".to_owned(), database_url.to_owned());
        vars.insert(
            "JWT_SECRET_KEY".to_owned(),
            "test-secret-key-that-is-long-enough-0123456789".to_owned(),
        );
        Self::from_map(vars)
    }

    pub fn is_required(&self, dep: Dependency) -> bool {
        self.ready_requires.contains(&dep)
    }
}

#[cfg(test)]
mod tests;
