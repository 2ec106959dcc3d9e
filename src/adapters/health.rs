//! Health endpoints for Kubernetes probes (`HEALTH_ADDR`): `GET /healthz` answers 200 while
//! the process runs; `GET /readyz` answers 200 when every service's broker connection is up,
//! 503 otherwise.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

/// Errors of the health server.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The address could not be bound.
    #[error("HEALTH_ADDR {addr}: cannot listen: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Whether all the given connections are up.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Vec<watch::Receiver<bool>>);

impl Readiness {
    /// Ready when every one of `connections` is `true` (none: always ready).
    pub fn new(connections: Vec<watch::Receiver<bool>>) -> Self {
        Readiness(connections)
    }

    /// Adds a connection to watch.
    pub fn push(&mut self, connection: watch::Receiver<bool>) {
        self.0.push(connection);
    }

    /// Whether all are up now.
    pub fn is_ready(&self) -> bool {
        self.0.iter().all(|c| *c.borrow())
    }
}

/// A running health server.
#[derive(Debug)]
pub struct HealthServer {
    addr: SocketAddr,
    readiness: watch::Sender<Readiness>,
    task: tokio::task::JoinHandle<()>,
}

impl HealthServer {
    /// Binds `addr` and serves the probes; readiness starts "not ready" until
    /// [`HealthServer::set_readiness`] gives it the connections to watch.
    ///
    /// # Errors
    /// [`HealthError::Bind`] when the address is taken or not allowed.
    pub async fn start(addr: SocketAddr) -> Result<Self, HealthError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| HealthError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| HealthError::Bind { addr, source })?;
        let (readiness, rx) = watch::channel(Readiness::new(vec![not_ready()]));
        let app = Router::new()
            .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
            .route(
                "/readyz",
                get(move || {
                    let ready = rx.borrow().is_ready();
                    async move {
                        if ready {
                            (StatusCode::OK, "ready\n")
                        } else {
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                "not connected to the broker\n",
                            )
                        }
                    }
                }),
            );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "health server stopped");
            }
        });
        tracing::info!(%addr, "health endpoints on /healthz and /readyz");
        Ok(HealthServer {
            addr,
            readiness,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `/readyz` reports from now on.
    pub fn set_readiness(&self, readiness: Readiness) {
        self.readiness.send_replace(readiness);
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn not_ready() -> watch::Receiver<bool> {
    let (_tx, rx) = watch::channel(false);
    rx
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_only_when_every_connection_is_up() {
        let server = HealthServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr());
        let get = |path: &str| {
            let url = format!("{base}{path}");
            async move { reqwest::get(url).await.unwrap().status().as_u16() }
        };
        assert_eq!(get("/healthz").await, 200);
        assert_eq!(
            get("/readyz").await,
            503,
            "not ready before the services report"
        );
        let (a, a_rx) = watch::channel(true);
        let (b, b_rx) = watch::channel(false);
        server.set_readiness(Readiness::new(vec![a_rx, b_rx]));
        assert_eq!(get("/readyz").await, 503);
        b.send_replace(true);
        assert_eq!(get("/readyz").await, 200);
        a.send_replace(false);
        assert_eq!(get("/readyz").await, 503);
        assert_eq!(get("/nope").await, 404);
        server.stop();
    }
}
