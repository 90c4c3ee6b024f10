//! The command line of api.md §10.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tenantry_domain::{Email, FullName};

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Multi-tenant SaaS backend: API, workers, migrations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The API and the outbox relay.
    Serve,
    /// A Temporal worker.
    Worker(WorkerArgs),
    /// Database migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Migrations, then the API, the relay and a worker in one process (development).
    Dev,
    /// Superuser accounts (operators).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a verified, active superuser. The password is read from a prompt on a terminal, or from
    /// the first line of stdin otherwise (never from an argument).
    CreateSuperuser(CreateSuperuserArgs),
    /// Make an existing account a superuser.
    GrantSuperuser(EmailArgs),
    /// Take superuser rights from an existing account (the last superuser included).
    RevokeSuperuser(EmailArgs),
}

#[derive(Debug, Args)]
pub struct CreateSuperuserArgs {
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// 1 to 100 characters.
    #[arg(long, value_parser = parse_full_name, default_value = "Superuser")]
    pub full_name: FullName,
}

#[derive(Debug, Args)]
pub struct EmailArgs {
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
}

/// Trimmed and lower-cased, as the API stores it (api.md §4).
pub fn parse_email(raw: &str) -> Result<Email, String> {
    Email::parse(raw).map_err(|e| e.message)
}

pub fn parse_full_name(raw: &str) -> Result<FullName, String> {
    FullName::parse(raw).map_err(|e| e.message)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    Tenant,
    Jobs,
    All,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long, value_enum, default_value_t = Workload::All)]
    pub workload: Workload,
    /// Tenant shards to poll: a list and/or ranges, e.g. `0,2,5-9` (default: all shards).
    #[arg(long)]
    pub shards: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending public migrations.
    Public,
    /// Apply pending tenant migrations to every tenant schema.
    Tenants(MigrateTenantsArgs),
    /// Public version, tenant version histogram and failing schemas.
    Status,
}

#[derive(Debug, Args)]
pub struct MigrateTenantsArgs {
    /// Schemas migrated at once, each on its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Limit to these tenants (repeatable).
    #[arg(long = "tenant", value_name = "SLUG")]
    pub tenants: Vec<String>,
    /// List current and target versions without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop scheduling schemas after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// How long to wait for a schema's migration lock before reporting it busy.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub lock_wait: Duration,
    /// `lock_timeout` of each migration file.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// `statement_timeout` of each migration file (0 = none).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub statement_timeout: Duration,
}

/// `500ms`, `5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (num, unit) = raw
        .find(|c: char| !c.is_ascii_digit())
        .map_or((raw, "s"), |i| raw.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{raw}' is not a duration like 5s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("'{raw}' is not a duration like 5s")),
    }
}

/// `0,2,5-9` → [0, 2, 5, 6, 7, 8, 9], each below `shards`.
pub fn parse_shards(raw: &str, shards: u16) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u16 = lo
            .parse()
            .map_err(|_| format!("'{part}' is not a shard or range"))?;
        let hi: u16 = hi
            .parse()
            .map_err(|_| format!("'{part}' is not a shard or range"))?;
        if lo > hi || hi >= shards {
            return Err(format!(
                "'{part}' is outside 0..{}",
                shards.saturating_sub(1)
            ));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("no shards given".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn shard_lists() {
        assert_eq!(parse_shards("0,2,5-7", 10), Ok(vec![0, 2, 5, 6, 7]));
        assert_eq!(parse_shards("3,3,1-3", 4), Ok(vec![1, 2, 3]));
        assert!(parse_shards("4", 4).is_err());
        assert!(parse_shards("5-2", 10).is_err());
        assert!(parse_shards("", 10).is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "tenantry",
            "migrate",
            "tenants",
            "--concurrency",
            "8",
            "--tenant",
            "a",
            "--tenant",
            "b",
        ])
        .unwrap();
        let Command::Migrate(MigrateCommand::Tenants(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.concurrency, 8);
        assert_eq!(args.tenants, vec!["a", "b"]);
        assert!(
            Cli::try_parse_from(["tenantry", "migrate", "tenants", "--concurrency", "33"]).is_err()
        );
    }

    #[test]
    fn admin_commands_parse_and_normalize() {
        let cli = Cli::try_parse_from([
            "tenantry",
            "admin",
            "create-superuser",
            "--email",
            " Ops@Example.COM ",
        ])
        .unwrap();
        let Command::Admin(AdminCommand::CreateSuperuser(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.email.as_str(), "ops@example.com");
        assert_eq!(args.full_name.as_str(), "Superuser");
        let cli = Cli::try_parse_from([
            "tenantry",
            "admin",
            "revoke-superuser",
            "--email",
            "ops@example.com",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Admin(AdminCommand::RevokeSuperuser(_))
        ));
        assert!(
            Cli::try_parse_from(["tenantry", "admin", "grant-superuser", "--email", "nope"])
                .is_err()
        );
        // The password is never an argument.
        assert!(
            Cli::try_parse_from([
                "tenantry",
                "admin",
                "create-superuser",
                "--email",
                "ops@example.com",
                "--password",
                "x",
            ])
            .is_err()
        );
    }
}
