//! The binary's start-up contract: invalid settings and a database behind the binary refuse to start
//! (exit 2, naming the cause); `migrate` brings a database up and reports status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use tenantry_testkit::sqlx::{self, Connection as _};

fn tenantry(vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.env_clear().args(args).current_dir(std::env::temp_dir());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("tenantry runs")
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-cli";

/// An empty database (no migrations), dropped by the caller.
async fn empty_database() -> (String, String) {
    let admin = tenantry_testkit::db::admin_url();
    let name = format!("tenantry_t_cli_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    (name, url)
}

async fn drop_database(name: &str) {
    let mut conn = sqlx::PgConnection::connect(&tenantry_testkit::db::admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[test]
fn invalid_settings_exit_2_naming_the_variable() {
    let out = tenantry(
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/x"),
            ("JWT_SECRET_KEY", "short"),
        ],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET_KEY"), "{stderr}");
    let out = tenantry(&[("JWT_SECRET_KEY", SECRET)], &["worker"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test]
async fn serve_and_worker_refuse_a_database_behind_the_binary_until_migrated() {
    let (name, url) = empty_database().await;
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET_KEY", SECRET),
        ("BIND_ADDR", "127.0.0.1:0"),
    ];
    for cmd in ["serve", "worker"] {
        let out = tenantry(&vars, &[cmd]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("migrate public"), "{cmd}: {stderr}");
    }
    let out = tenantry(&vars, &["migrate", "public"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tenantry(&vars, &["migrate", "tenants"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("migrated 0, current 0, failed 0, busy 0")
    );
    let out = tenantry(&vars, &["migrate", "status"]);
    assert!(out.status.success());
    drop_database(&name).await;
}
