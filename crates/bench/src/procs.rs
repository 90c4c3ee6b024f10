//! The real `tenantry` binary as child processes (`serve`, `worker`, `migrate tenants`) with the settings
//! of a [`TestApp`](tenantry_testkit::TestApp).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// The workspace root (this crate is `crates/bench`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Cargo's profile flag matching this build of the bench (`--profile bench` outputs under `release/`).
fn profile_args() -> &'static [&'static str] {
    if cfg!(debug_assertions) {
        &[]
    } else {
        &["--profile", "bench"]
    }
}

/// `TENANTRY_BIN`, else `tenantry` next to this executable. When run through cargo (`CARGO` is set) the
/// binary is first brought up to date with the same profile; a failed build (e.g. someone's edit in
/// progress) falls back to the binary already there, with a warning.
pub fn tenantry_bin() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("TENANTRY_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("executable has no directory")?;
    let bin = dir.join("tenantry");
    if let Ok(cargo) = std::env::var("CARGO") {
        eprintln!(
            "building the tenantry binary (cargo build -p tenantry {})…",
            profile_args().join(" ")
        );
        let status = std::process::Command::new(cargo)
            .current_dir(repo_root())
            .args(["build", "--quiet", "-p", "tenantry"])
            .args(profile_args())
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => eprintln!(
                "warning: building tenantry failed ({other:?}); using {}",
                bin.display()
            ),
        }
    }
    anyhow::ensure!(
        bin.exists(),
        "{} not found: build it with `cargo build -p tenantry --profile bench` or set TENANTRY_BIN",
        bin.display()
    );
    Ok(bin)
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for a benchmark).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// `tenantry <args>` with exactly the app's variables (plus PATH and `RUST_LOG=error`), as
/// `crates/tenantry/tests/durability.rs` spawns workers.
pub fn command(
    bin: &Path,
    args: &[&str],
    vars: &HashMap<String, String>,
    extra: &[(&str, &str)],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env_clear()
        .envs(vars)
        .env("RUST_LOG", "error");
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

/// A long-running `tenantry` child (serve or worker); stopped with SIGTERM, killed on drop.
pub struct Child {
    pub name: String,
    child: tokio::process::Child,
    pid: u32,
    log: PathBuf,
}

impl Child {
    pub fn spawn(
        bin: &Path,
        args: &[&str],
        vars: &HashMap<String, String>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Child> {
        let name = format!("tenantry {}", args.join(" "));
        let log = std::env::temp_dir().join(format!(
            "tenantry-bench-{}-{}.log",
            args.first().copied().unwrap_or("x"),
            std::process::id()
        ));
        let file = std::fs::File::create(&log)?;
        let child = command(bin, args, vars, extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {name}"))?;
        let pid = child.id().context("child has no pid")?;
        Ok(Child {
            name,
            child,
            pid,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn memory(&self) -> crate::sys::Memory {
        crate::sys::Memory::of(&self.pid.to_string()).unwrap_or_default()
    }

    /// An error with the end of its log when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            anyhow::bail!("{} exited with {status}:\n{tail}", self.name);
        }
        Ok(())
    }

    /// SIGTERM, then up to `grace` for a clean exit, then SIGKILL.
    pub async fn stop(mut self, grace: Duration) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let started = Instant::now();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "{} did not stop within {:?}; killing it",
                self.name,
                started.elapsed()
            );
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
