//! Reading raw variables into typed values, each failure naming its variable.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use crate::TestHooks;

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {variable}: {message}")]
pub struct SettingsError {
    pub variable: String,
    pub message: String,
}

impl SettingsError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

pub(crate) struct Source {
    vars: HashMap<String, String>,
}

impl Source {
    pub(crate) fn new(vars: HashMap<String, String>) -> Self {
        Self { vars }
    }

    /// An empty value counts as unset, as in most .env conventions.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    pub(crate) fn required_secret(&self, name: &str) -> Result<SecretString, SettingsError> {
        self.get(name)
            .map(|v| SecretString::from(v.to_owned()))
            .ok_or_else(|| SettingsError::new(name, "is required"))
    }

    pub(crate) fn optional_secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(|v| SecretString::from(v.to_owned()))
    }

    pub(crate) fn list(&self, name: &str, default: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or(default)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn choice<'a>(
        &self,
        name: &str,
        default: &'a str,
        allowed: &[&'a str],
    ) -> Result<&'a str, SettingsError> {
        let raw = self.get(name).unwrap_or(default);
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(raw))
            .copied()
            .ok_or_else(|| {
                SettingsError::new(name, format!("must be one of: {}", allowed.join(", ")))
            })
    }

    pub(crate) fn parsed<T>(&self, name: &str, default: &str) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = self.get(name).unwrap_or(default);
        raw.parse()
            .map_err(|e| SettingsError::new(name, format!("'{raw}' is invalid: {e}")))
    }

    pub(crate) fn number<T>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, SettingsError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let value: T = raw
            .parse()
            .map_err(|_| SettingsError::new(name, format!("'{raw}' is not a whole number")))?;
        if value < min || value > max {
            return Err(SettingsError::new(
                name,
                format!("must be between {min} and {max}"),
            ));
        }
        Ok(value)
    }

    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, SettingsError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(SettingsError::new(
                name,
                format!("'{raw}' is not a boolean (true/false)"),
            )),
        }
    }
}

pub(crate) fn ip_or_net(raw: &str) -> Option<IpNet> {
    raw.parse::<IpNet>()
        .ok()
        .or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The prefix becomes part of task-queue names; keep it to characters every tool accepts.
pub(crate) fn queue_prefix(src: &Source) -> Result<String, SettingsError> {
    let prefix = src.string("TEMPORAL_QUEUE_PREFIX", "tenantry");
    let ok = !prefix.is_empty()
        && prefix.len() <= 100
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(prefix)
    } else {
        Err(SettingsError::new(
            "TEMPORAL_QUEUE_PREFIX",
            "must be 1 to 100 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}

/// `TENANTRY_TEST_ACTIVITY_DELAYS=migrate_tenant_schema=3000,create_admin_membership=500` (milliseconds).
pub(crate) fn test_hooks(src: &Source) -> Result<TestHooks, SettingsError> {
    const NAME: &str = "TENANTRY_TEST_ACTIVITY_DELAYS";
    let mut hooks = TestHooks {
        fail_tenant_migration: src.boolean("TENANTRY_TEST_FAIL_TENANT_MIGRATION", false)?,
        ..TestHooks::default()
    };
    for entry in src.list(NAME, "") {
        let (activity, ms) = entry.split_once('=').ok_or_else(|| {
            SettingsError::new(NAME, format!("'{entry}' is not activity=milliseconds"))
        })?;
        let ms: u64 = ms.trim().parse().map_err(|_| {
            SettingsError::new(NAME, format!("'{entry}' is not activity=milliseconds"))
        })?;
        hooks
            .activity_delays
            .insert(activity.trim().to_owned(), Duration::from_millis(ms));
    }
    Ok(hooks)
}
