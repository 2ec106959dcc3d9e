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

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
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

/// Errors of the web server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The static directory has no `index.html`.
    #[error("{dir}: no index.html (build the dashboard: cd web && npm ci && npm run build)")]
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
/// `index.html`; unknown paths are 404).
pub fn router(web_dir: &Path, config: WebConfig) -> Router {
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
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
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
    /// Binds `addr` (port 0 = any free port) and serves [`router`] until `shutdown` resolves.
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
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(WebError::Serve)
        });
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
        assert!(err.to_string().contains("npm run build"), "{err}");
    }
}
