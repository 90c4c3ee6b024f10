//! What the machine is, and what processes use: resident memory and CPU time from `/proc`.

use std::path::Path;
use std::time::Duration;

/// Linux reports process CPU times in clock ticks of `USER_HZ`, which is 100 on every architecture
/// the kernel still builds for (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SECOND: f64 = 100.0;

/// `VmRSS` and `VmHWM` (peak resident set) of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

impl Memory {
    pub fn of(pid: &str) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some(Memory {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:").unwrap_or(0),
        })
    }

    pub fn current() -> Memory {
        Memory::of("self").unwrap_or_default()
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    pub fn hwm_mib(&self) -> f64 {
        self.hwm_kib as f64 / 1024.0
    }
}

/// CPU seconds (user + system) of a process, and of its reaped children (`cutime + cstime`).
pub fn cpu_seconds(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields are counted after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the man page, so utime (14) is index 11.
    let num = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    let own = num(11)? + num(12)?;
    let children = num(13)? + num(14)?;
    Some((own / TICKS_PER_SECOND, children / TICKS_PER_SECOND))
}

fn comm(pid: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

fn cmdline(pid: &str) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn pids() -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default()
}

/// The Temporal dev server serving `host` (`127.0.0.1:7233`): a process named `temporal` whose command
/// line has `--port <port>`; when none matches the port, the only `temporal` process, if there is one.
pub fn temporal_server_pid(host: &str) -> Option<String> {
    let port = host.rsplit(':').next().unwrap_or("7233").to_owned();
    let servers: Vec<(String, String)> = pids()
        .into_iter()
        .filter(|p| comm(p).as_deref() == Some("temporal"))
        .map(|p| {
            let c = cmdline(&p);
            (p, c)
        })
        .filter(|(_, c)| c.contains("start-dev") || c.contains("server"))
        .collect();
    let wanted = format!("--port {port}");
    if let Some((pid, _)) = servers
        .iter()
        .find(|(_, c)| c.contains(&wanted) || c.contains(&format!("--port={port}")))
    {
        return Some(pid.clone());
    }
    match servers.as_slice() {
        [(pid, _)] => Some(pid.clone()),
        _ => None,
    }
}

/// CPU seconds of every process named `postgres*` (backends, background workers, and via the
/// postmaster's `cutime`, the backends that already exited). Shared with whatever else uses the server.
pub fn postgres_cpu_seconds() -> f64 {
    pids()
        .into_iter()
        .filter(|p| comm(p).is_some_and(|c| c.starts_with("postgres")))
        .filter_map(|p| cpu_seconds(&p))
        .map(|(own, children)| own + children)
        .sum()
}

/// Busy and total jiffies of the whole machine, from the `cpu` line of `/proc/stat`.
pub fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A CPU-time snapshot of the processes that do the work of a phase, to difference later.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    pub temporal: Option<f64>,
    pub ours: f64,
    pub postgres: f64,
    pub machine_busy: u64,
    pub machine_total: u64,
    pub at: Option<std::time::Instant>,
}

impl CpuSnapshot {
    /// `extra` are pids of child processes of ours (e.g. a `tenantry worker`) counted as ours.
    pub fn take(temporal_pid: Option<&str>, extra: &[u32]) -> CpuSnapshot {
        let own = cpu_seconds("self").map_or(0.0, |(s, c)| s + c);
        let extra: f64 = extra
            .iter()
            .filter_map(|p| cpu_seconds(&p.to_string()))
            .map(|(s, _)| s)
            .sum();
        let (machine_busy, machine_total) = machine_jiffies().unwrap_or((0, 0));
        CpuSnapshot {
            temporal: temporal_pid.and_then(|p| cpu_seconds(p).map(|(s, _)| s)),
            ours: own + extra,
            postgres: postgres_cpu_seconds(),
            machine_busy,
            machine_total,
            at: Some(std::time::Instant::now()),
        }
    }
}

/// CPU used between two snapshots.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    pub wall: Duration,
    pub temporal: Option<f64>,
    pub ours: f64,
    pub postgres: f64,
    /// Fraction (0..=1) of all cores busy, whoever used them.
    pub machine_busy: f64,
}

impl CpuUse {
    pub fn between(a: &CpuSnapshot, b: &CpuSnapshot) -> CpuUse {
        let wall = match (a.at, b.at) {
            (Some(x), Some(y)) => y.saturating_duration_since(x),
            _ => Duration::ZERO,
        };
        let total = b.machine_total.saturating_sub(a.machine_total);
        CpuUse {
            wall,
            temporal: a.temporal.zip(b.temporal).map(|(x, y)| y - x),
            ours: b.ours - a.ours,
            postgres: b.postgres - a.postgres,
            machine_busy: if total > 0 {
                b.machine_busy.saturating_sub(a.machine_busy) as f64 / total as f64
            } else {
                0.0
            },
        }
    }

    pub fn total(&self) -> f64 {
        self.temporal.unwrap_or(0.0) + self.ours + self.postgres
    }
}

/// First line of `program args…`, or `unknown`.
pub fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The machine, as the report describes it.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub ram_gib: f64,
    pub os: String,
    pub kernel: String,
    pub rustc: String,
    pub temporal: String,
    pub commit: String,
}

impl Machine {
    pub fn describe(repo_root: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let ram_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        let temporal_bin = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".to_owned());
        let root = repo_root.to_string_lossy().into_owned();
        Machine {
            cores: cores(),
            cpu_model,
            ram_gib: ram_kib / 1024.0 / 1024.0,
            os,
            kernel,
            rustc: command_line("rustc", &["--version"]),
            temporal: command_line(&temporal_bin, &["--version"]),
            commit: command_line("git", &["-C", &root, "rev-parse", "--short", "HEAD"]),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(Memory::current().rss_kib > 0);
        assert!(cpu_seconds("self").is_some());
        let (busy, total) = machine_jiffies().unwrap();
        assert!(total >= busy);
    }
}
