//! Logs: pretty in development, JSON in production; `RUST_LOG` overrides the default filter.

use tenantry_settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

pub fn init(settings: Option<&Settings>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,temporalio_sdk_core=warn,tower_http=warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests spawning several apps) is harmless: the first subscriber stays.
    let _ = match settings.map_or(LogFormat::Pretty, |s| s.log_format) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
