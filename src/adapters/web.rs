//! The dashboard's HTTP server (`axum`): the static files of `web/dist` and the page's runtime
//! configuration, `GET /config.json`, beside `index.html`. Shared by `ny-power demo` and
//! `ny-power web` (the Kubernetes dashboard container).
//!
//! `config.json` (documented in `docs/demo.md` and `web/README.md`):
//! `{"mqtt":{"url":"ws://127.0.0.1:9001/mqtt"},"topic_root":"ny-power","mode":"live","stale_after_minutes":15}`.
//! `mqtt.url` is an absolute `ws://`/`wss://` URL or a path starting with `/` (resolved by the
//! page against its own origin, for a broker behind the same ingress).
//!
//! Caching: file names in `web/dist` carry no content hash, so every response says
//! `Cache-Control: no-cache` (browsers revalidate with `If-Modified-Since` and get a 304);
//! `config.json` is `no-store`. Responses are gzip-compressed when the client accepts it.
//!
//! **Security headers**, on every response the router makes (404s included):
//! `Content-Security-Policy` ([`content_security_policy`]: scripts, styles and images from the
//! page's own origin only, `connect-src` the page's origin and the configured broker,
//! `frame-ancestors 'none'`), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! no-referrer`, `X-Frame-Options: DENY` (for browsers without `frame-ancestors`).
//!
//! **Limits** ([`WebLimits`]): a client must send its request headers within
//! `header_timeout` (10 s by default; also between two requests on a kept-alive connection) or
//! the connection is closed; at most `max_connections` (512) are open at once — beyond that the
//! server stops accepting until one closes (new ones wait in the kernel's queue), so a flood
//! of half-sent requests can neither exhaust file descriptors nor keep `/healthz` from
//! answering once the header timeout has closed the idle ones. HTTP/1.1 only (the dashboard
//! needs nothing more; a TLS-terminating ingress may speak HTTP/2 to browsers).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebConfig {
    /// How the page reaches the broker.
    pub mqtt: WebMqtt,
    /// Root of the topic tree (default `ny-power`).
    pub topic_root: String,
    /// `live` (NYISO data) or `replay` (bundled days); the page shows which.
    pub mode: String,
    /// After how many minutes without a newer reading the page calls the value stale.
    pub stale_after_minutes: u32,
}

/// The broker connection in [`WebConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebMqtt {
    /// MQTT-over-WebSocket URL (`ws://…`, `wss://…`, or a path starting with `/`).
    pub url: String,
}

impl WebConfig {
    /// A config for a broker at `url` under the default topic root, live, stale after 15 min.
    pub fn new(url: impl Into<String>) -> Self {
        WebConfig {
            mqtt: WebMqtt { url: url.into() },
            topic_root: crate::stream::DEFAULT_ROOT.to_owned(),
            mode: "live".to_owned(),
            stale_after_minutes: 15,
        }
    }
}

/// Connection limits of [`WebServer`] (see the module docs). `Default` gives the production
/// values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebLimits {
    /// A client must have sent a request's headers this long after the connection opened (or
    /// after the previous response on a kept-alive connection), or it is closed.
    pub header_timeout: Duration,
    /// Most connections open at once (at least 1).
    pub max_connections: usize,
}

impl Default for WebLimits {
    fn default() -> Self {
        WebLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// How long a stopping server waits for open connections to finish their response.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Content-Security-Policy` sent with every response: nothing but the page's own
/// scripts, styles and images; `connect-src` allows the page's origin (`config.json`) and the
/// broker of `config.mqtt.url` — exactly its origin when it is an absolute `ws://`/`wss://`
/// URL, any `ws:`/`wss:` when it is a path (resolved by the page against its own host, which
/// the server cannot know behind an ingress); `worker-src blob:` for MQTT.js's timer worker;
/// no framing (`frame-ancestors 'none'`), no `<base>`, no forms.
pub fn content_security_policy(config: &WebConfig) -> String {
    let broker = ws_origin(&config.mqtt.url).unwrap_or_else(|| "ws: wss:".to_owned());
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' {broker}; worker-src blob:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `ws://host:port` of an absolute WebSocket URL, when it is one with a plain host.
fn ws_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "ws" && scheme != "wss" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
    plain.then(|| format!("{scheme}://{authority}"))
}

/// Errors of the web server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The static directory has no `index.html`.
    #[error(
        "{dir}: no index.html there; point --web-dir (WEB_DIR) at a built dashboard, or build \
         one from the repository with `cd web && npm ci && npm run build` and pass \
         --web-dir web/dist"
    )]
    NoIndex {
        /// The directory.
        dir: PathBuf,
    },
    /// The address could not be bound.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

/// The router: `/config.json`, `/healthz` (200 `ok`) and the files of `web_dir` (`/` is
/// `index.html`; unknown paths are 404), every response with the security headers.
pub fn router(web_dir: &Path, config: WebConfig) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(&config)).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self' ws: wss:; worker-src blob:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
        )
    });
    let files = ServeDir::new(web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(web_dir.join("__not_found__")));
    let config_route = get(move || {
        let config = config.clone();
        async move {
            (
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                Json(config),
            )
        }
    });
    Router::new()
        .route("/config.json", config_route)
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CompressionLayer::new())
}

/// A bound, running web server.
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<Result<(), WebError>>,
}

impl WebServer {
    /// Binds `addr` (port 0 = any free port) and serves [`router`] with the default
    /// [`WebLimits`] until `shutdown` resolves.
    ///
    /// # Errors
    /// [`WebError::NoIndex`] when `web_dir` has no `index.html`; [`WebError::Bind`] when the
    /// address is taken.
    pub async fn start(
        addr: SocketAddr,
        web_dir: &Path,
        config: WebConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<WebServer, WebError> {
        Self::start_with(addr, web_dir, config, WebLimits::default(), shutdown).await
    }

    /// As [`WebServer::start`], with the given limits.
    ///
    /// # Errors
    /// As [`WebServer::start`].
    pub async fn start_with(
        addr: SocketAddr,
        web_dir: &Path,
        config: WebConfig,
        limits: WebLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<WebServer, WebError> {
        if !web_dir.join("index.html").is_file() {
            return Err(WebError::NoIndex {
                dir: web_dir.to_owned(),
            });
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| WebError::Bind { addr, source })?;
        let app = router(web_dir, config);
        let task = tokio::spawn(serve(listener, app, limits, shutdown));
        Ok(WebServer { addr, task })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the server to stop (after its shutdown signal).
    ///
    /// # Errors
    /// [`WebError::Serve`] when it failed.
    pub async fn stopped(self) -> Result<(), WebError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(WebError::Serve(std::io::Error::other(e))),
        }
    }

    /// Whether the server task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// The accept loop: one task per connection, at most `limits.max_connections` at once (no
/// accept while at the cap), each with the header timeout; on `shutdown`, stops accepting,
/// lets open connections finish their response (at most [`DRAIN_TIMEOUT`]) and returns.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: WebLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // E.g. EMFILE: wait rather than spin; the cap keeps this rare.
                        tracing::warn!(error = %e, "accepting an HTTP connection; retrying in 1 s");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 * 1024);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let stopping = tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                    false
                }
                _ = closed.wait_for(|c| *c) => true,
            };
            if stopping {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
            drop(slot);
        });
    }
    let _ = closing.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    Ok(())
}

/// Errors of one incoming connection (the client gave up), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            format!("<!doctype html><title>t</title>{}", "x".repeat(4000)),
        )
        .unwrap();
        std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
        dir
    }

    async fn server(dir: &Path) -> (WebServer, tokio::sync::oneshot::Sender<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut config = WebConfig::new("ws://127.0.0.1:9001/mqtt");
        config.mode = "replay".to_owned();
        let s = WebServer::start((Ipv4Addr::LOCALHOST, 0).into(), dir, config, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
        (s, tx)
    }

    #[tokio::test]
    async fn serves_files_config_and_health_over_real_http() {
        let dir = site();
        let (s, stop) = server(dir.path()).await;
        let base = format!("http://{}", s.addr());
        let http = reqwest::Client::new();

        let response = http
            .get(format!("{base}/config.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let config: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"mqtt": {"url": "ws://127.0.0.1:9001/mqtt"},
                "topic_root": "ny-power", "mode": "replay", "stale_after_minutes": 15})
        );

        let index = http.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(index.status(), 200);
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(index.text().await.unwrap().starts_with("<!doctype html>"));
        let raw = reqwest::Client::builder().no_gzip().build().unwrap();
        let gz = raw
            .get(format!("{base}/"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(gz.bytes().await.unwrap().starts_with(&[0x1f, 0x8b]));

        let js = http.get(format!("{base}/app.js")).send().await.unwrap();
        assert_eq!(js.status(), 200);
        assert!(js.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript"));

        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let missing = http.get(format!("{base}/nope.js")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        let escape = http
            .get(format!("{base}/../Cargo.toml"))
            .send()
            .await
            .unwrap();
        assert_eq!(escape.status(), 404);

        stop.send(()).unwrap();
        s.stopped().await.unwrap();
    }

    #[test]
    fn csp_names_the_broker_exactly_when_it_can() {
        let csp = |url: &str| content_security_policy(&WebConfig::new(url));
        assert!(csp("wss://mqtt.example.org/mqtt")
            .contains("connect-src 'self' wss://mqtt.example.org;"));
        assert!(csp("ws://[::1]:9001/mqtt?x=1").contains("connect-src 'self' ws://[::1]:9001;"));
        // A path: the page's own host, which the server cannot know behind an ingress.
        assert!(csp("/mqtt").contains("connect-src 'self' ws: wss:;"));
        // Nothing from the URL can add a directive.
        let injected = csp("ws://evil; script-src *");
        assert!(
            injected.contains("connect-src 'self' ws: wss:;"),
            "{injected}"
        );
        assert!(!injected.contains("script-src *"), "{injected}");
        assert!(csp("ws://user@host/").contains("ws: wss:"));
        for url in ["/mqtt", "ws://127.0.0.1:9001/mqtt"] {
            assert!(HeaderValue::from_str(&csp(url)).is_ok());
            assert!(csp(url).ends_with("frame-ancestors 'none'"));
        }
    }

    #[tokio::test]
    async fn a_directory_without_index_html_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = WebServer::start(
            (Ipv4Addr::LOCALHOST, 0).into(),
            dir.path(),
            WebConfig::new("/mqtt"),
            async {},
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("npm run build"), "{text}");
        assert!(text.contains("--web-dir"), "{text}");
    }
}
