//! A Tenantry API over HTTP (in-process or a separate `tenantry serve`), and the flows the benchmarks
//! need: register → ready, verification through `/dev/mailbox`, login, projects.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tenantry_testkit::TestApp;

use crate::PASSWORD;

#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub http: reqwest::Client,
}

/// A ready tenant, its verified owner (an admin) and an access token of theirs.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub slug: String,
    pub email: String,
    pub token: String,
}

pub fn email_of(slug: &str) -> String {
    format!("{slug}@bench.example")
}

/// Sends, requires `status`, and reads the body (so the connection goes back to the pool).
pub async fn expect(req: reqwest::RequestBuilder, status: u16) -> anyhow::Result<()> {
    let resp = req.send().await?;
    let got = resp.status().as_u16();
    let body = resp.bytes().await?;
    anyhow::ensure!(
        got == status,
        "answered {got}, expected {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    Ok(())
}

/// [`expect`], then the body as JSON.
pub async fn expect_json(req: reqwest::RequestBuilder, status: u16) -> anyhow::Result<Value> {
    let resp = req.send().await?;
    let got = resp.status().as_u16();
    let body = resp.bytes().await?;
    anyhow::ensure!(
        got == status,
        "answered {got}, expected {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    Ok(serde_json::from_slice(&body)?)
}

impl Target {
    pub fn of(app: &TestApp) -> Target {
        Target {
            base: format!("http://{}", app.addr),
            http: app.http.clone(),
        }
    }

    pub fn new(base: String) -> anyhow::Result<Target> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Target { base, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// A request as `ws`'s owner in `ws`'s tenant.
    pub fn member(&self, req: reqwest::RequestBuilder, ws: &Workspace) -> reqwest::RequestBuilder {
        req.header("X-Tenant-Slug", &ws.slug).bearer_auth(&ws.token)
    }

    pub async fn register(&self, slug: &str) -> anyhow::Result<()> {
        let body = json!({"email": email_of(slug), "password": PASSWORD, "full_name": "Bench", "tenant_name": "Bench", "tenant_slug": slug});
        expect(self.post("/api/v1/auth/register").json(&body), 202)
            .await
            .with_context(|| format!("register {slug}"))?;
        Ok(())
    }

    pub async fn provisioning(&self, slug: &str) -> anyhow::Result<String> {
        let v = expect_json(
            self.get(&format!("/api/v1/tenants/{slug}/provisioning")),
            200,
        )
        .await?;
        Ok(v["status"].as_str().unwrap_or_default().to_owned())
    }

    /// Registers and polls the public provisioning view every `poll` until the tenant is ready; the time
    /// from sending the registration to seeing `ready`.
    pub async fn register_until_ready(
        &self,
        slug: &str,
        poll: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.register(slug).await?;
        loop {
            match self.provisioning(slug).await?.as_str() {
                "ready" => return Ok(started.elapsed()),
                "failed" => anyhow::bail!("{slug} failed to provision"),
                _ if started.elapsed() > timeout => {
                    anyhow::bail!("{slug} not ready after {timeout:?}")
                }
                _ => tokio::time::sleep(poll).await,
            }
        }
    }

    /// The plaintext token of the newest mailbox message of `kind` to `email`.
    pub async fn mailbox_token(&self, email: &str, kind: &str) -> anyhow::Result<String> {
        let v = expect_json(self.get(&format!("/dev/mailbox?to={email}&limit=50")), 200).await?;
        v["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|m| m["kind"] == kind)
                    .and_then(|m| m["token"].as_str())
            })
            .map(str::to_owned)
            .with_context(|| format!("no {kind} email with a token for {email}"))
    }

    pub async fn login(&self, slug: &str, email: &str) -> anyhow::Result<String> {
        let v = expect_json(
            self.post("/api/v1/auth/login")
                .header("X-Tenant-Slug", slug)
                .json(&json!({ "email": email, "password": PASSWORD })),
            200,
        )
        .await
        .with_context(|| format!("login {email} to {slug}"))?;
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("login answered no access_token")
    }

    /// The owner of an already registered, ready tenant: verified through the mailbox, then logged in.
    pub async fn claim(&self, slug: &str) -> anyhow::Result<Workspace> {
        let email = email_of(slug);
        let token = self.mailbox_token(&email, "verify_email").await?;
        expect(
            self.post("/api/v1/auth/verify-email")
                .json(&json!({ "token": token })),
            200,
        )
        .await
        .context("verify-email")?;
        let token = self.login(slug, &email).await?;
        Ok(Workspace {
            slug: slug.to_owned(),
            email,
            token,
        })
    }

    /// Register → ready → verify → login, as a new customer would.
    pub async fn workspace(&self, slug: &str) -> anyhow::Result<Workspace> {
        self.register_until_ready(slug, Duration::from_millis(50), Duration::from_secs(120))
            .await?;
        self.claim(slug).await
    }

    pub async fn create_project(&self, ws: &Workspace, name: &str) -> anyhow::Result<()> {
        expect(
            self.member(self.post("/api/v1/projects"), ws)
                .json(&json!({ "name": name, "description": "benchmark project" })),
            201,
        )
        .await
        .with_context(|| format!("create project {name}"))?;
        Ok(())
    }

    /// Polls `/health` until it answers 200.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = self.get("/health").send().await
                && r.status() == 200
            {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not answer /health within {timeout:?}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
