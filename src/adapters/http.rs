//! HTTP at the edges: what every HTTP client of ny-power shares — the NYISO sources
//! ([`crate::adapters::nyiso`]), the load forecast and InfluxDB ([`crate::adapters::influx`]).
//!
//! - [`client`]: the one place a `reqwest::Client` is built (whole-request and connect
//!   timeouts, the `ny-power/<version>` user agent).
//! - [`base_url`]: the one check of a configured base URL (absolute, `http` or `https`, with a
//!   host), with the one message naming the setting.
//! - [`read_capped`]: every body read from outside is read through it, so an endless body or a
//!   gzip bomb costs bounded memory.
//! - [`describe_http_error`]: a transport error as one line with its causes.
//! - [`is_transient_status`]: the replies worth trying again (5xx, 408, 429).
//!
//! Retries wait on a [`crate::backoff::Backoff`] capped at [`MAX_RETRY_WAIT`].

use std::time::Duration;

use reqwest::StatusCode;

use crate::quote::quote;

/// The `User-Agent` of every request ny-power sends.
pub const USER_AGENT: &str = concat!("ny-power/", env!("CARGO_PKG_VERSION"));

/// The longest wait between two attempts of one HTTP request (DESIGN §6: a bounded timeout and
/// retry with backoff).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// How a client connects. `Default`: 30 s per request, 10 s to connect, [`USER_AGENT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientOptions {
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpClientOptions {
    fn default() -> Self {
        HttpClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: USER_AGENT.to_owned(),
        }
    }
}

/// Why an HTTP adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    /// A configured base URL is not an absolute `http(s)` URL with a host.
    #[error("{setting}: `{value}` is not an absolute http:// or https:// URL with a host, e.g. http://127.0.0.1:8086")]
    BadBaseUrl {
        /// The setting (its environment name, e.g. `NYISO_BASE_URL`).
        setting: &'static str,
        /// The value given (quoted: short, control characters escaped).
        value: String,
    },
    /// The HTTP client could not be built (no TLS backend, an invalid user agent).
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A client with `options`' timeouts and user agent.
///
/// # Errors
/// [`HttpSetupError::Client`] when reqwest cannot build it (e.g. a user agent that is not a
/// valid header value).
pub fn client(options: &HttpClientOptions) -> Result<reqwest::Client, HttpSetupError> {
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .user_agent(options.user_agent.as_str())
        .build()
        .map_err(HttpSetupError::Client)
}

/// Checks the base URL given as `setting`: an absolute `http://` or `https://` URL with a host.
/// Returns it without trailing slashes, ready to have paths appended
/// (`{base}/rtfuelmix/…`, `{base}/write`).
///
/// # Errors
/// [`HttpSetupError::BadBaseUrl`], naming the setting and the value.
pub fn base_url(setting: &'static str, value: &str) -> Result<String, HttpSetupError> {
    let bad = || HttpSetupError::BadBaseUrl {
        setting,
        value: quote(value),
    };
    let parsed = reqwest::Url::parse(value).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// A reply's cache validators (`ETag`, `Last-Modified`), sent back on the next request for the
/// same URL as `If-None-Match` / `If-Modified-Since` so an unchanged file costs a `304`. The
/// NYISO source and the load-forecast fetcher both keep them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` of the reply.
    pub etag: Option<String>,
    /// The `Last-Modified` of the reply.
    pub last_modified: Option<String>,
}

impl Validators {
    /// The validators of a reply's headers (a header that is not text counts as absent).
    pub fn of(headers: &reqwest::header::HeaderMap) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        Validators {
            etag: text(reqwest::header::ETAG),
            last_modified: text(reqwest::header::LAST_MODIFIED),
        }
    }

    /// `request` made conditional on them.
    pub fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(etag) = &self.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &self.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        request
    }
}

/// Whether a reply's status says "try again later": a server error, `408 Request Timeout` or
/// `429 Too Many Requests`.
pub fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Reads a body chunk by chunk, keeping at most `limit` bytes; `true` when the body ended
/// within them, `false` when it went on (the rest is not read: the connection is dropped).
/// Every HTTP body ny-power reads from outside goes through this (NYISO files, InfluxDB
/// replies, the load forecast).
///
/// # Errors
/// The transport error when the body cannot be read.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(
        response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(cap),
    );
    while let Some(chunk) = response.chunk().await? {
        if out.len() + chunk.len() > cap {
            let room = cap - out.len();
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, false));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, true))
}

/// A reqwest error as one line: what kind of failure, then every cause (reqwest's own message
/// is often just "error sending request"). Shared by every HTTP client in the crate.
pub fn describe_http_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed (connection closed early?)"
    } else {
        "request failed"
    };
    let mut out = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn base_url_accepts_absolute_http_urls_and_trims_slashes() {
        for (given, kept) in [
            (
                "http://mis.nyiso.com/public/csv",
                "http://mis.nyiso.com/public/csv",
            ),
            ("https://127.0.0.1:8086/", "https://127.0.0.1:8086"),
            ("http://[::1]:9/csv//", "http://[::1]:9/csv"),
            ("HTTP://Example.com", "HTTP://Example.com"),
        ] {
            assert_eq!(base_url("NYISO_BASE_URL", given).unwrap(), kept, "{given}");
        }
    }

    #[test]
    fn base_url_refusals_name_the_setting_and_the_value() {
        for bad in [
            "mis.nyiso.com/public/csv",
            "localhost:8086",
            "ftp://x/y",
            "file:///tmp/csv",
            "http://",
            "",
            "/public/csv",
        ] {
            let e = base_url("INFLUX_URL", bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "INFLUX_URL: `{bad}` is not an absolute http:// or https:// URL with a host, \
                     e.g. http://127.0.0.1:8086"
                ),
                "{bad}"
            );
            assert!(matches!(
                e,
                HttpSetupError::BadBaseUrl {
                    setting: "INFLUX_URL",
                    ..
                }
            ));
        }
        // An outside value is quoted: no control character reaches the log.
        let e = base_url("NYISO_BASE_URL", "ftp://x\u{1b}[2J/").unwrap_err();
        assert!(e.to_string().contains("`ftp://x\\u{1b}[2J/`"), "{e}");
    }

    #[test]
    fn transient_statuses() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(is_transient_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 304, 400, 401, 403, 404, 413] {
            assert!(
                !is_transient_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    /// A one-shot HTTP server on loopback: answers one request with `reply` and hands back
    /// the request it read.
    async fn one_reply(reply: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            socket.write_all(reply).await.unwrap();
            let _ = socket.shutdown().await;
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn the_client_sends_the_user_agent_and_bodies_are_capped() {
        let (url, server) = one_reply(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        )
        .await;
        let http = client(&HttpClientOptions::default()).unwrap();
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(
            read_capped(response, 4).await.unwrap(),
            (b"0123".to_vec(), false),
            "cut at the limit, and said so"
        );
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(
            request.contains(&format!("user-agent: {}", USER_AGENT.to_ascii_lowercase())),
            "{request}"
        );

        let (url, server) =
            one_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
                .await;
        let options = HttpClientOptions {
            user_agent: "probe/1".to_owned(),
            ..HttpClientOptions::default()
        };
        let response = client(&options).unwrap().get(&url).send().await.unwrap();
        assert_eq!(
            read_capped(response, 3).await.unwrap(),
            (b"abc".to_vec(), true)
        );
        assert!(server
            .await
            .unwrap()
            .to_ascii_lowercase()
            .contains("user-agent: probe/1"));
    }

    #[test]
    fn a_bad_user_agent_is_a_setup_error() {
        let options = HttpClientOptions {
            user_agent: "bad\nagent".to_owned(),
            ..HttpClientOptions::default()
        };
        let e = client(&options).unwrap_err();
        assert!(matches!(e, HttpSetupError::Client(_)), "{e}");
        assert!(
            e.to_string().starts_with("building the HTTP client: "),
            "{e}"
        );
    }

    #[tokio::test]
    async fn transport_errors_say_what_failed() {
        // A port nobody listens on (bound, then closed).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let e = client(&HttpClientOptions::default())
            .unwrap()
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        let text = describe_http_error(&e);
        assert!(text.starts_with("connection failed: "), "{text}");
    }
}
