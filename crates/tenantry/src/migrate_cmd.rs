//! `tenantry migrate public|tenants|status` (data-model.md §4.3).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use tenantry_store::migrate::fanout::{SchemaEvent, SchemaResult, format_event, format_summary};
use tenantry_store::{
    CancellationToken, FanOutOptions, LineProgress, MigrateOptions, PgPool, ProgressSink, Summary,
    TenantMigrations,
};

use crate::cli::MigrateTenantsArgs;

/// A live bar on a terminal: done/total, failures, elapsed and ETA; failures are printed above it.
struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} schemas → v{msg} ({elapsed}, ETA {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }
}

impl ProgressSink for BarProgress {
    fn start(&self, total: usize, target_version: i64) {
        self.bar.set_length(total as u64);
        self.bar.set_message(target_version.to_string());
    }

    fn schema(&self, event: &SchemaEvent) {
        if matches!(
            event.result,
            SchemaResult::Failed { .. } | SchemaResult::Busy
        ) {
            self.bar.println(format_event(event));
        }
        self.bar.inc(1);
    }

    fn finish(&self, summary: &Summary) {
        self.bar.finish_and_clear();
        println!("{}", format_summary(summary));
    }
}

pub async fn tenants(pool: &PgPool, args: &MigrateTenantsArgs) -> i32 {
    let options = FanOutOptions {
        concurrency: usize::from(args.concurrency),
        tenants: args.tenants.clone(),
        dry_run: args.dry_run,
        fail_fast: args.fail_fast,
        migrate: MigrateOptions {
            lock_wait: Some(args.lock_wait),
            lock_timeout: args.lock_timeout,
            statement_timeout: args.statement_timeout,
        },
    };
    // Ctrl-C stops scheduling; in-flight files finish or roll back; the summary still prints.
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing in-flight schemas");
            on_signal.cancel();
        }
    });
    let line = LineProgress::new(std::io::stdout());
    let bar = BarProgress::new();
    let sink: &dyn ProgressSink = if std::io::stdout().is_terminal() && !args.dry_run {
        &bar
    } else {
        &line
    };
    match tenantry_store::migrate_tenants(
        pool,
        TenantMigrations::embedded(),
        &options,
        sink,
        &cancel,
    )
    .await
    {
        Ok(summary) => {
            if !summary.unmatched_tenants.is_empty() {
                eprintln!(
                    "no migratable tenant with slug: {}",
                    summary.unmatched_tenants.join(", ")
                );
            }
            summary.exit_code()
        }
        Err(e) => {
            eprintln!("tenantry migrate tenants: {e}");
            2
        }
    }
}
