//! Small helpers shared by the integration tests.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use uuid::Uuid;

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes an email row and its SendEmail start request in one transaction, as a business flow does.
pub async fn enqueue_email(pool: &PgPool, queue: &str) -> Uuid {
    enqueue_emails(pool, queue, 1).await[0]
}

/// Writes `n` emails and their start requests in ONE transaction, so they become due at the same instant.
pub async fn enqueue_emails(pool: &PgPool, queue: &str, n: usize) -> Vec<Uuid> {
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = Uuid::now_v7();
        tenantry_store::email::enqueue(
            &mut tx,
            &tenantry_store::email::NewEmail {
                id,
                kind: "welcome",
                to_email: "someone@example.com",
                subject: "Welcome",
                body_text: "hello",
                body_html: "<p>hello</p>",
                action_url: None,
                action_token: None,
                dedupe_key: None,
                user_id: None,
                tenant_id: None,
            },
        )
        .await
        .unwrap();
        tenantry_store::outbox::enqueue_start(
            &mut tx,
            &tenantry_store::outbox::NewStartRequest {
                workflow_id: &format!("email-{id}"),
                workflow_type: "SendEmail",
                task_queue: queue,
                input: serde_json::json!({ "email_id": id }),
            },
            None,
        )
        .await
        .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    ids
}

/// `(sent_at is set, attempts)` of an email row.
pub async fn email_state(pool: &PgPool, id: Uuid) -> (bool, i32) {
    let row: (Option<time::OffsetDateTime>, i32) =
        sqlx::query_as("SELECT sent_at, attempts FROM public.email_outbox WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    (row.0.is_some(), row.1)
}

/// A response read to the end: status, headers and the body parsed as JSON (`Null` when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the contract's error body (api.md §0.2): `status`, `detail`, and a `request_id` equal to the
    /// `X-Request-ID` header.
    pub fn assert_error(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.json["detail"], detail, "detail of {}", self.text);
        let header = self.header("x-request-id").expect("X-Request-ID header");
        assert_eq!(
            self.json["request_id"], header,
            "request_id of {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    Reply::read(req.send().await.unwrap()).await
}

/// The security headers of api.md §0.4 (the default CSP is checked separately where it differs).
pub fn assert_security_headers(reply: &Reply) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("x-permitted-cross-domain-policies", "none"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("x-xss-protection", "0"),
    ] {
        assert_eq!(
            reply.header(name),
            Some(value),
            "{name} on a {} response",
            reply.status
        );
    }
}

pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sends raw bytes over one HTTP/1.1 connection (the request should say `Connection: close`) and parses
/// the response, for requests reqwest cannot make (a chunked body without `Content-Length`).
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"))
    {
        body = dechunk(&body);
    }
    let text = String::from_utf8(body).unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&data[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A port nothing listens on, held (bound, not listening) for as long as the socket lives, so
/// connecting to it is refused and no one else can take it meanwhile.
pub fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// The value of one series (name with its labels exactly as rendered) in a Prometheus text page.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A `redis-server` of this test alone, killed (SIGKILL) when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        Self::start_on(port).await
    }

    /// A fresh, empty server on `port` (e.g. where a killed one listened).
    pub async fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let server = Self {
            port,
            child: Some(child),
        };
        let url = server.url();
        eventually(
            "our redis-server to answer",
            Duration::from_secs(10),
            || {
                let url = url.clone();
                async move { redis_keys(&url, "*").await.ok().map(|_| ()) }
            },
        )
        .await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, then wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Keys matching `pattern` in the Redis at `url`.
pub async fn redis_keys(url: &str, pattern: &str) -> anyhow::Result<Vec<String>> {
    let client = redis::Client::open(url)?;
    let keys = tokio::time::timeout(Duration::from_secs(5), async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async::<Vec<String>>(&mut conn)
            .await
    })
    .await??;
    Ok(keys)
}

/// A Temporal dev server of this test alone (in memory, headless), killed when dropped.
pub struct TemporalServer {
    child: Option<std::process::Child>,
}

impl TemporalServer {
    /// Starts `temporal server start-dev` on `port` and waits until it answers there.
    pub async fn start_on(port: u16) -> Self {
        let free = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port().to_string()
        };
        let bin = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".to_owned());
        let child = std::process::Command::new(bin)
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--http-port", &free()])
            .args(["--metrics-port", &free(), "--log-level", "error"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("temporal CLI on PATH (or TEMPORAL_BIN)");
        let mut server = Self { child: Some(child) };
        let host = format!("127.0.0.1:{port}");
        eventually(
            "our Temporal server to answer",
            Duration::from_secs(30),
            || {
                let host = host.clone();
                let exited = server.child.as_mut().and_then(|c| c.try_wait().unwrap());
                assert!(exited.is_none(), "temporal start-dev exited: {exited:?}");
                async move {
                    let mut settings =
                        tenantry_settings::Settings::for_tests("postgres://unused").unwrap();
                    settings.temporal_host = host;
                    tenantry_workflows::client::connect(&settings).await.ok()
                }
            },
        )
        .await;
        server
    }
}

impl Drop for TemporalServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
