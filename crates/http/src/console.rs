//! The web console (`web/`, a single-page app): its built files are served from a directory (`web/dist`
//! relative to the working directory) as the router's fallback, so every API, docs and operational route keeps
//! precedence.
//!
//! - A file that exists in the directory is served as is (precompressed `.br`/`.gz` siblings when the client
//!   accepts them); hashed files under `/assets/` are cached for a year, everything else is revalidated.
//! - Any other `GET`/`HEAD` path whose `Accept` names HTML gets `index.html`, so the app's client-side routes work
//!   on reload and from email links. `/` always gets it.
//! - Paths under `/api/` and `/dev/`, other methods, and non-HTML requests answer the contract's JSON
//!   `404 Not Found` (api.md §0.2).
//! - Without a build (a Rust-only checkout) the HTML requests get a short page saying how to build the console.
//!
//! Console responses carry [`CONSOLE_CSP`], which permits exactly the app's own scripts, styles, images and API
//! calls; every other response keeps the default policy.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::middleware::context::RouteTemplate;
use crate::middleware::headers::CONSOLE_CSP;

/// Where the built console is looked for, relative to the working directory (`scripts/dev` runs from the
/// repository root).
pub const DEFAULT_DIR: &str = "web/dist";

/// Route label of console responses in `http_requests_total` (never the raw path).
const ROUTE_LABEL: &str = "console";

const HASHED_ASSETS: &str = "/assets/";

/// Shown instead of the console when the directory has no `index.html`.
const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Tenantry console not built</title></head>
<body>
<h1>The Tenantry web console is not built</h1>
<p>This server answers the API (under <code>/api/v1</code>; see <a href=\"/docs\">/docs</a>), but the console's
files were not found in <code>web/dist</code> below the server's working directory.</p>
<p>Build it with:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>and reload this page (<code>scripts/dev</code> does this for you).</p>
</body>
</html>
";

/// The router's fallback: the console from `dir`, or the contract's JSON 404.
pub fn fallback(
    dir: impl Into<PathBuf>,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let dir: PathBuf = dir.into();
    move |req: Request| {
        let dir = dir.clone();
        Box::pin(async move { serve(&dir, req).await })
    }
}

async fn serve(dir: &Path, req: Request) -> Response {
    let path = req.uri().path();
    if !matches!(*req.method(), Method::GET | Method::HEAD) || is_reserved(path) {
        return not_found();
    }
    let wants_html = path == "/" || accepts_html(&req);
    let immutable = path.starts_with(HASHED_ASSETS);
    let head = req.method() == Method::HEAD;
    if path != "/" {
        let files = ServeDir::new(dir)
            .append_index_html_on_directories(false)
            .precompressed_br()
            .precompressed_gzip();
        let Ok(resp) = files.oneshot(req).await;
        // Found (200, 206, 304), or a range error of a real file: the file server's answer stands.
        if resp.status() != StatusCode::NOT_FOUND {
            return console_response(resp.map(Body::new), immutable);
        }
    }
    if !wants_html {
        return not_found();
    }
    let page = match tokio::fs::read(dir.join("index.html")).await {
        Ok(bytes) => bytes,
        Err(_) => NOT_BUILT.as_bytes().to_vec(),
    };
    let len = page.len();
    let mut resp = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(page))
    };
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    console_response(resp, false)
}

/// Paths that belong to the API and the development endpoints are never answered by the console.
fn is_reserved(path: &str) -> bool {
    ["/api", "/dev"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// `Accept` names `text/html` (what browsers send for a navigation), with a non-zero quality.
fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (media.eq_ignore_ascii_case("text/html")
                || media.eq_ignore_ascii_case("application/xhtml+xml"))
                && !refused
        })
}

fn console_response(mut resp: Response, immutable: bool) -> Response {
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    let cache = if immutable && resp.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp.extensions_mut()
        .insert(RouteTemplate(ROUTE_LABEL.to_owned()));
    resp
}

fn not_found() -> Response {
    ApiError::not_found("Not Found").into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use http_body_util::BodyExt;

    use super::*;

    /// A console build in a fresh temporary directory.
    struct Dist(PathBuf);

    impl Dist {
        fn new(with_index: bool) -> Self {
            let dir =
                std::env::temp_dir().join(format!("tenantry-console-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(dir.join("assets")).unwrap();
            if with_index {
                std::fs::write(dir.join("index.html"), "<!doctype html><title>app</title>")
                    .unwrap();
            }
            std::fs::write(dir.join("assets/app-1234.js"), "console.log(1)").unwrap();
            std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
            Self(dir)
        }
    }

    impl Drop for Dist {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn app(dir: &Path) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .fallback(fallback(dir.to_path_buf()))
    }

    async fn call(
        app: &Router,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> (StatusCode, Response, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            status,
            Response::from_parts(parts, Body::empty()),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    #[tokio::test]
    async fn files_index_and_client_routes_are_served_with_the_console_csp() {
        let dist = Dist::new(true);
        let app = app(&dist.0);
        let (status, resp, body) =
            call(&app, Method::GET, "/assets/app-1234.js", Some("*/*")).await;
        assert_eq!(status, 200);
        assert_eq!(body, "console.log(1)");
        assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CONSOLE_CSP);
        assert!(
            resp.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );

        for path in [
            "/",
            "/projects",
            "/verify-email?token=abc",
            "/admin/tenants",
        ] {
            let (status, resp, body) = call(&app, Method::GET, path, Some(BROWSER)).await;
            assert_eq!(status, 200, "{path}");
            assert!(body.contains("<title>app</title>"), "{path}: {body}");
            assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CONSOLE_CSP);
            assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
        }
        // `/` is the console even for clients that do not ask for HTML.
        let (status, _, body) = call(&app, Method::GET, "/", None).await;
        assert_eq!((status, body.contains("app")), (StatusCode::OK, true));
        let (status, _, body) = call(&app, Method::HEAD, "/projects", Some(BROWSER)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        // Routes keep precedence.
        let (_, _, body) = call(&app, Method::GET, "/health", Some(BROWSER)).await;
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn api_dev_other_methods_and_non_html_requests_get_the_json_404() {
        let dist = Dist::new(true);
        let app = app(&dist.0);
        for (method, path, accept) in [
            (Method::GET, "/api/v1/nope", Some(BROWSER)),
            (Method::GET, "/api", Some(BROWSER)),
            (Method::GET, "/dev/nope", Some(BROWSER)),
            (Method::GET, "/nowhere", None),
            (Method::GET, "/nowhere", Some("*/*")),
            (Method::GET, "/nowhere", Some("application/json")),
            (Method::GET, "/nowhere", Some("text/html;q=0")),
            (Method::GET, "/assets/missing.js", Some("*/*")),
            (Method::POST, "/projects", Some(BROWSER)),
        ] {
            let (status, resp, body) = call(&app, method.clone(), path, accept).await;
            assert_eq!(status, 404, "{method} {path}");
            assert!(body.contains("\"detail\":\"Not Found\""), "{path}: {body}");
            assert!(
                resp.headers()
                    .get(header::CONTENT_SECURITY_POLICY)
                    .is_none(),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn without_a_build_html_requests_get_the_build_instructions() {
        let dist = Dist::new(false);
        let app = app(&dist.0);
        let (status, resp, body) = call(&app, Method::GET, "/login", Some(BROWSER)).await;
        assert_eq!(status, 200);
        assert!(body.contains("npm ci &amp;&amp; npm run build"), "{body}");
        assert!(
            resp.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let missing = app_for_missing_dir();
        let (status, _, body) = call(&missing, Method::GET, "/", None).await;
        assert_eq!(status, 200);
        assert!(body.contains("cd web"), "{body}");
        let (status, _, _) = call(&missing, Method::GET, "/nowhere", None).await;
        assert_eq!(status, 404);
    }

    fn app_for_missing_dir() -> Router {
        app(&std::env::temp_dir().join(format!("tenantry-no-console-{}", uuid::Uuid::now_v7())))
    }

    #[test]
    fn reserved_paths() {
        for p in ["/api", "/api/", "/api/v1/x", "/dev", "/dev/mailbox"] {
            assert!(is_reserved(p), "{p}");
        }
        for p in ["/", "/apis", "/developers", "/projects"] {
            assert!(!is_reserved(p), "{p}");
        }
    }
}
