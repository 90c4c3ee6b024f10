//! `tenantry admin create-superuser | grant-superuser | revoke-superuser` (api.md §10).
//!
//! Exit codes: 0 done (also when nothing had to change), 1 refused (email taken, no such account, a
//! password that breaks the rules of api.md §4, a database error). Invalid settings exit 2 before this
//! module runs.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use tenantry::cli::{AdminCommand, CreateSuperuserArgs};
use tenantry_domain::NewPassword;
use tenantry_services::accounts::password_inputs;
use tenantry_services::passwords::Passwords;
use tenantry_services::{ServiceError, Services};
use tenantry_settings::Settings;
use tenantry_store::Db;

/// Refused: the message was printed.
const EXIT_REFUSED: i32 = 1;
/// Interrupted at a password prompt (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

pub async fn run(settings: Arc<Settings>, db: Db, cmd: AdminCommand) -> i32 {
    let passwords = match Passwords::from_params(&settings.argon2) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tenantry admin: ARGON2_*: {e}");
            return 2;
        }
    };
    let services = match Services::new(db.clone(), settings, passwords) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tenantry admin: {e}");
            return 2;
        }
    };
    let code = match cmd {
        AdminCommand::CreateSuperuser(args) => create_superuser(&services, &args).await,
        AdminCommand::GrantSuperuser(args) => set_superuser(&services, &args.email, true).await,
        AdminCommand::RevokeSuperuser(args) => set_superuser(&services, &args.email, false).await,
    };
    db.close().await;
    code
}

async fn create_superuser(services: &Services, args: &CreateSuperuserArgs) -> i32 {
    const CMD: &str = "tenantry admin create-superuser";
    let email = args.email.as_str();
    // Ask before prompting: nobody should type a password for an account that cannot be created.
    match services.email_registered(&args.email).await {
        Ok(false) => {}
        Ok(true) => {
            eprintln!("{CMD}: a user with email '{email}' already exists");
            return EXIT_REFUSED;
        }
        Err(e) => {
            eprintln!("{CMD}: {e}");
            return EXIT_REFUSED;
        }
    }
    let raw = match read_password().await {
        Ok(p) => p,
        Err(PasswordInput(message)) => {
            eprintln!("{CMD}: {message}");
            return EXIT_REFUSED;
        }
    };
    let inputs = password_inputs(email, args.full_name.as_str());
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let password = match NewPassword::parse(&raw, &refs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{CMD}: {}", e.message);
            return EXIT_REFUSED;
        }
    };
    match services
        .create_superuser(&args.email, &args.full_name, &password)
        .await
    {
        Ok(user) => {
            println!("superuser {} created (id {})", user.email, user.id);
            0
        }
        Err(ServiceError::Conflict(message)) => {
            eprintln!("{CMD}: {message}");
            EXIT_REFUSED
        }
        Err(e) => {
            eprintln!("{CMD}: {e}");
            EXIT_REFUSED
        }
    }
}

async fn set_superuser(services: &Services, email: &tenantry_domain::Email, on: bool) -> i32 {
    let cmd = if on {
        "tenantry admin grant-superuser"
    } else {
        "tenantry admin revoke-superuser"
    };
    match services.set_superuser(email, on).await {
        Ok(before) => {
            let email = email.as_str();
            match (before, on) {
                (false, true) => println!("{email} is now a superuser"),
                (true, true) => println!("{email} was already a superuser"),
                (true, false) => println!("{email} is no longer a superuser"),
                (false, false) => println!("{email} was not a superuser"),
            }
            0
        }
        Err(ServiceError::NotFound(_)) => {
            eprintln!("{cmd}: no user with email '{}'", email.as_str());
            EXIT_REFUSED
        }
        Err(e) => {
            eprintln!("{cmd}: {e}");
            EXIT_REFUSED
        }
    }
}

/// Why no password could be read.
struct PasswordInput(String);

/// On a terminal: two hidden prompts that must match. Otherwise: the first line of stdin (its line
/// ending removed, nothing else: spaces are part of a password).
async fn read_password() -> Result<String, PasswordInput> {
    if std::io::stdin().is_terminal() {
        let first = prompt_hidden("Password: ").await?;
        let second = prompt_hidden("Repeat password: ").await?;
        if first != second {
            return Err(PasswordInput("the passwords do not match".to_owned()));
        }
        return Ok(first);
    }
    let line = tokio::task::spawn_blocking(read_line)
        .await
        .map_err(|e| PasswordInput(format!("cannot read stdin: {e}")))?
        .map_err(|e| PasswordInput(format!("cannot read stdin: {e}")))?;
    line.ok_or_else(|| PasswordInput("no password given on stdin".to_owned()))
}

/// One line of stdin without its line ending; `None` at end of input.
fn read_line() -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(Some(line))
}

/// Terminal echo through `stty` on the controlling terminal (stdin).
fn stty(arg: &str) -> bool {
    Command::new("stty")
        .arg(arg)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads one line with echo off; echo is restored on every path, Ctrl-C included.
async fn prompt_hidden(prompt: &str) -> Result<String, PasswordInput> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    if !stty("-echo") {
        eprintln!();
        return Err(PasswordInput(
            "cannot turn off terminal echo (stty failed); pipe the password on stdin instead"
                .to_owned(),
        ));
    }
    let read = tokio::task::spawn_blocking(read_line);
    let outcome = tokio::select! {
        r = read => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    stty("echo");
    eprintln!();
    match outcome {
        // The blocked read cannot be cancelled, and the runtime would wait for it: leave now, with the
        // terminal restored.
        None => std::process::exit(EXIT_INTERRUPTED),
        Some(Ok(Ok(Some(line)))) => Ok(line),
        Some(Ok(Ok(None))) => Err(PasswordInput("no password given".to_owned())),
        Some(Ok(Err(e))) => Err(PasswordInput(format!("cannot read the password: {e}"))),
        Some(Err(e)) => Err(PasswordInput(format!("cannot read the password: {e}"))),
    }
}
