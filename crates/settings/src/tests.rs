#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;

fn base() -> HashMap<String, String> {
    HashMap::from([
        (
            "DATABASE_URL".to_owned(),
            "postgres://postgres@127.0.0.1/x".to_owned(),
        ),
        (
            "JWT_SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        ),
    ])
}

fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let mut vars = base();
    for (k, v) in pairs {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_map(vars)
}

#[test]
fn defaults_follow_the_contract() {
    let s = with(&[]).unwrap();
    assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8000");
    assert_eq!(s.app_env, AppEnv::Development);
    assert_eq!(s.temporal_host, "localhost:7233");
    assert_eq!(s.access_token_expire_minutes, 15);
    assert_eq!(s.max_body_bytes, 65_536);
    assert_eq!(s.global_rate_limit_burst, 50);
    assert!(s.rate_limit_enabled);
    assert_eq!(s.ready_requires, BTreeSet::from([Dependency::Database]));
    assert_eq!(s.temporal_queue_prefix, "tenantry");
    assert_eq!(s.temporal_queue_shards, 1);
    assert_eq!(s.cors_origins, vec!["http://localhost:3000".to_owned()]);
    assert_eq!(s.log_format, LogFormat::Pretty);
}

#[test]
fn rate_limits_default_off_in_test() {
    let s = with(&[("APP_ENV", "test")]).unwrap();
    assert!(!s.rate_limit_enabled);
    let s = with(&[("APP_ENV", "test"), ("RATE_LIMIT_ENABLED", "true")]).unwrap();
    assert!(s.rate_limit_enabled);
}

#[test]
fn short_jwt_secret_is_refused_by_name() {
    let err = with(&[("JWT_SECRET_KEY", "short")]).unwrap_err();
    assert_eq!(err.variable, "JWT_SECRET_KEY");
}

#[test]
fn missing_database_url_is_refused_by_name() {
    let mut vars = base();
    vars.remove("DATABASE_URL");
    assert_eq!(
        Settings::from_map(vars).unwrap_err().variable,
        "DATABASE_URL"
    );
}

#[test]
fn wildcard_cors_is_refused() {
    assert_eq!(
        with(&[("CORS_ORIGINS", "https://a.example, *")])
            .unwrap_err()
            .variable,
        "CORS_ORIGINS"
    );
}

#[test]
fn production_refuses_mailbox_and_test_hooks() {
    let err = with(&[("APP_ENV", "production")]).unwrap_err();
    assert_eq!(err.variable, "EMAIL_BACKEND");
    let err = with(&[
        ("APP_ENV", "production"),
        ("EMAIL_BACKEND", "smtp"),
        ("SMTP_URL", "smtp://localhost:25"),
        ("TENANTRY_TEST_ACTIVITY_DELAYS", "load_tenant=10"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "TENANTRY_TEST_ACTIVITY_DELAYS");
}

#[test]
fn reset_expiry_above_sixty_minutes_is_refused() {
    assert_eq!(
        with(&[("PASSWORD_RESET_EXPIRE_MINUTES", "61")])
            .unwrap_err()
            .variable,
        "PASSWORD_RESET_EXPIRE_MINUTES"
    );
}

#[test]
fn shards_are_bounded() {
    assert!(with(&[("TEMPORAL_QUEUE_SHARDS", "0")]).is_err());
    assert!(with(&[("TEMPORAL_QUEUE_SHARDS", "101")]).is_err());
    assert_eq!(
        with(&[("TEMPORAL_QUEUE_SHARDS", "100")])
            .unwrap()
            .temporal_queue_shards,
        100
    );
}

#[test]
fn lists_and_proxies_parse() {
    let s = with(&[
        ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
        ("READY_REQUIRES", "database,redis"),
    ])
    .unwrap();
    assert_eq!(s.trusted_proxies.len(), 2);
    assert!(s.is_required(Dependency::Redis));
    assert!(!s.is_required(Dependency::Temporal));
    assert!(with(&[("TRUSTED_PROXIES", "not-an-ip")]).is_err());
    assert!(with(&[("READY_REQUIRES", "database,kafka")]).is_err());
}

#[test]
fn secrets_do_not_leak_through_debug() {
    let s = with(&[]).unwrap();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("0123456789abcdef0123456789abcdef"));
    assert_eq!(
        s.jwt_secret_key.expose_secret(),
        "0123456789abcdef0123456789abcdef"
    );
}

#[test]
fn test_hooks_parse() {
    let s = with(&[(
        "TENANTRY_TEST_ACTIVITY_DELAYS",
        "migrate_tenant_schema=3000",
    )])
    .unwrap();
    assert_eq!(
        s.test_hooks.activity_delays.get("migrate_tenant_schema"),
        Some(&std::time::Duration::from_millis(3000))
    );
}

#[test]
fn database_pooler_defaults_to_none_and_needs_a_direct_url_in_transaction_mode() {
    let s = with(&[]).unwrap();
    assert_eq!(s.database_pooler, DatabasePooler::None);
    assert!(s.database_direct_url.is_none());
    assert_eq!(s.database_direct_max_connections, 4);

    let err = with(&[("DATABASE_POOLER", "transaction")]).unwrap_err();
    assert_eq!(err.variable, "DATABASE_DIRECT_URL");

    let s = with(&[
        ("DATABASE_POOLER", "Transaction"),
        (
            "DATABASE_DIRECT_URL",
            "postgres://postgres@127.0.0.1:5432/x",
        ),
        ("DATABASE_DIRECT_MAX_CONNECTIONS", "3"),
    ])
    .unwrap();
    assert_eq!(s.database_pooler, DatabasePooler::Transaction);
    assert_eq!(
        s.database_direct_url.unwrap().expose_secret(),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(s.database_direct_max_connections, 3);

    assert_eq!(
        with(&[("DATABASE_POOLER", "session")])
            .unwrap_err()
            .variable,
        "DATABASE_POOLER"
    );
    assert_eq!(
        with(&[("DATABASE_DIRECT_MAX_CONNECTIONS", "1")])
            .unwrap_err()
            .variable,
        "DATABASE_DIRECT_MAX_CONNECTIONS"
    );
}
