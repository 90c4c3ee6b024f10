//! `tenantry admin create-superuser | grant-superuser | revoke-superuser` (api.md §10): run as the real
//! binary against a migrated test database, with the password on stdin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use tenantry_testkit::TestApp;
use tenantry_testkit::sqlx;

const STRONG: &str = "violet-Harbor-93-lantern";

fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}-{}@example.com",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// Runs `tenantry` with exactly `vars` (and PATH), feeding `stdin`.
fn tenantry(vars: &[(String, String)], args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.env_clear()
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("tenantry runs");
    // The process may exit before reading (e.g. invalid settings): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn app_vars(app: &TestApp) -> Vec<(String, String)> {
    app.vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn superuser_flag(app: &TestApp, email: &str) -> Option<bool> {
    sqlx::query_scalar("SELECT is_superuser FROM public.users WHERE email = $1")
        .bind(email)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

async fn admin_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/admin/login",
        &json!({ "email": email, "password": password }),
    )
    .await
}

#[tokio::test]
async fn create_superuser_reads_the_password_from_stdin_and_the_account_can_log_in() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let vars = app_vars(&app);
    let email = unique_email("ops");
    let shouted = email.to_uppercase();

    let out = tenantry(
        &vars,
        &["admin", "create-superuser", "--email", &shouted],
        &format!("{STRONG}\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&email));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(STRONG) && !stderr(&out).contains(STRONG),
        "the password is never echoed"
    );
    let (full_name, active, superuser, verified, hash): (String, bool, bool, bool, String) =
        sqlx::query_as(
            "SELECT full_name, is_active, is_superuser, email_verified_at IS NOT NULL, hashed_password \
             FROM public.users WHERE email = $1",
        )
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(full_name, "Superuser");
    assert!(active && superuser && verified);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let resp = admin_login(&app, &email, STRONG).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");

    // A given full name, and a Windows line ending that is not part of the password.
    let other = unique_email("night-shift");
    let out = tenantry(
        &vars,
        &[
            "admin",
            "create-superuser",
            "--email",
            &other,
            "--full-name",
            "  Night Shift  ",
        ],
        &format!("{STRONG}\r\nignored second line\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let name: String = sqlx::query_scalar("SELECT full_name FROM public.users WHERE email = $1")
        .bind(&other)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Night Shift");
    assert_eq!(admin_login(&app, &other, STRONG).await.status(), 200);

    // The email exists (whatever its case): exit 1, nothing changes.
    let out = tenantry(
        &vars,
        &["admin", "create-superuser", "--email", &email],
        "another-Strong-pass-42\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(admin_login(&app, &email, STRONG).await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn create_superuser_refuses_passwords_that_break_the_rules() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let vars = app_vars(&app);
    let email = unique_email("weak");
    let cases = [
        ("password123\n", "Weak password"),
        ("short\n", "Password must be 8 to 128 characters"),
        (
            &*format!("{}\n", "x".repeat(129)),
            "Password must be 8 to 128 characters",
        ),
        ("", "no password given on stdin"),
    ];
    for (stdin, message) in cases {
        let out = tenantry(
            &vars,
            &["admin", "create-superuser", "--email", &email],
            stdin,
        );
        assert_eq!(out.status.code(), Some(1), "{message}");
        assert!(
            stderr(&out).contains(message),
            "{message}: {}",
            stderr(&out)
        );
    }
    // The email is one of zxcvbn's user inputs: a password built from it is weak.
    let local = email.split('@').next().unwrap().to_owned();
    let out = tenantry(
        &vars,
        &["admin", "create-superuser", "--email", &email],
        &format!("{local}{local}\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("Weak password"), "{}", stderr(&out));
    assert_eq!(
        superuser_flag(&app, &email).await,
        None,
        "no account was created"
    );
    // The password is never an argument.
    let out = tenantry(
        &vars,
        &[
            "admin",
            "create-superuser",
            "--email",
            &email,
            "--password",
            STRONG,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(superuser_flag(&app, &email).await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn grant_and_revoke_toggle_superuser_rights_of_existing_accounts() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let vars = app_vars(&app);
    let email = unique_email("member");
    app.create_user(&email, STRONG, false).await.unwrap();
    assert_eq!(admin_login(&app, &email, STRONG).await.status(), 401);

    let out = tenantry(
        &vars,
        &["admin", "grant-superuser", "--email", &email.to_uppercase()],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(superuser_flag(&app, &email).await, Some(true));
    assert_eq!(admin_login(&app, &email, STRONG).await.status(), 200);
    // Granting again changes nothing and succeeds.
    let out = tenantry(&vars, &["admin", "grant-superuser", "--email", &email], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(superuser_flag(&app, &email).await, Some(true));

    // Revoking the last superuser is allowed.
    let out = tenantry(&vars, &["admin", "revoke-superuser", "--email", &email], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(superuser_flag(&app, &email).await, Some(false));
    assert_eq!(admin_login(&app, &email, STRONG).await.status(), 401);
    let out = tenantry(&vars, &["admin", "revoke-superuser", "--email", &email], "");
    assert_eq!(out.status.code(), Some(0));

    let nobody = unique_email("nobody");
    for cmd in ["grant-superuser", "revoke-superuser"] {
        let out = tenantry(&vars, &["admin", cmd, "--email", &nobody], "");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            stderr(&out).contains("no user with email"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    assert_eq!(superuser_flag(&app, &nobody).await, None);
    app.shutdown().await;
}

#[tokio::test]
async fn admin_commands_exit_2_on_invalid_settings() {
    let app = TestApp::builder().without_worker().spawn().await.unwrap();
    let vars = app_vars(&app);
    let email = unique_email("cfg");
    let without = |name: &str| -> Vec<(String, String)> {
        vars.iter().filter(|(k, _)| k != name).cloned().collect()
    };
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        let mut v = without(name);
        v.push((name.to_owned(), value.to_owned()));
        v
    };
    let create = ["admin", "create-superuser", "--email", email.as_str()];
    let grant = ["admin", "grant-superuser", "--email", email.as_str()];
    let revoke = ["admin", "revoke-superuser", "--email", email.as_str()];
    for args in [&create, &grant, &revoke] {
        let out = tenantry(&without("DATABASE_URL"), args, &format!("{STRONG}\n"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
        let out = tenantry(
            &with("JWT_SECRET_KEY", "short"),
            args,
            &format!("{STRONG}\n"),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("JWT_SECRET_KEY"), "{}", stderr(&out));
        let out = tenantry(
            &with("ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
            args,
            &format!("{STRONG}\n"),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // An invalid --email is a usage error.
    let out = tenantry(
        &vars,
        &["admin", "grant-superuser", "--email", "not-an-email"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        superuser_flag(&app, &email).await,
        None,
        "nothing was written"
    );
    app.shutdown().await;
}
