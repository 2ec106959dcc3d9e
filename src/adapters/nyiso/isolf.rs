//! NYISO's load forecast over HTTP (`LOAD_FORECAST=nyiso`): a background task that fetches
//! `{NYISO_BASE_URL}/isolf/{YYYYMMDD}isolf.csv` for today in New York (by the caller's clock, so
//! `NYPOWER_NOW` replays pick the replayed day) at start and then every
//! [`LoadForecastSettings::refresh`] ([`LOAD_REFRESH`]: once an hour), with a conditional GET
//! (`If-None-Match` / `If-Modified-Since`) and the timeout and retries of [`HttpOptions`].
//!
//! Each file read is merged into the forecast held (newer hours win; hours more than a day old
//! are dropped) and handed out through a [`LoadForecastFeed`]. A failure (unreachable, HTTP
//! error, a file that is not a load forecast) is logged and changes nothing: the forecast uses
//! what is held, or the intensity history alone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::StatusCode;
use tokio::sync::watch;

use super::http::HttpOptions;
use crate::adapters::http::{
    base_url, client, describe_http_error, is_transient_status, read_capped, HttpSetupError,
    Validators,
};
use crate::nyiso::isolf::{parse_isolf, IsolfError, LoadForecast};
use crate::nyiso::{daily_file_name, daily_url, today_in_new_york, Dataset, MAX_CSV_BYTES};

/// How often the load forecast is fetched again (at most).
pub const LOAD_REFRESH: Duration = Duration::from_secs(3600);

/// Where the load forecast comes from (`LOAD_FORECAST=nyiso`).
#[derive(Debug, Clone)]
pub struct LoadForecastSettings {
    /// NYISO's CSV base URL (`NYISO_BASE_URL`): files are read from `{base}/isolf/`.
    pub base_url: String,
    /// Timeouts, retries and backoff of each fetch.
    pub http: HttpOptions,
    /// Time between fetches ([`LOAD_REFRESH`]).
    pub refresh: Duration,
}

impl LoadForecastSettings {
    /// NYISO at `base_url` with the production HTTP options, fetched hourly.
    pub fn nyiso(base_url: impl Into<String>) -> Self {
        LoadForecastSettings {
            base_url: base_url.into(),
            http: HttpOptions::default(),
            refresh: LOAD_REFRESH,
        }
    }
}

/// Why a load forecast could not be read (or the fetcher not set up).
#[derive(Debug, thiserror::Error)]
pub enum LoadForecastError {
    /// A bad `NYISO_BASE_URL`, or no HTTP client.
    #[error(transparent)]
    Setup(#[from] HttpSetupError),
    /// No reply, or a reply that is not the file.
    #[error("GET {url}: {problem}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
        /// Whether retrying may help.
        transient: bool,
    },
    /// The file is not a load forecast.
    #[error(transparent)]
    Rejected(#[from] IsolfError),
}

/// The URL of the last file read and its validators.
#[derive(Debug, Clone)]
struct LastRead {
    url: String,
    validators: Validators,
}

/// Conditional GETs of NYISO's daily `isolf` files.
struct IsolfFetcher {
    client: reqwest::Client,
    base_url: String,
    options: HttpOptions,
    last: Option<LastRead>,
}

impl IsolfFetcher {
    fn new(settings: &LoadForecastSettings) -> Result<Self, LoadForecastError> {
        Ok(IsolfFetcher {
            base_url: base_url("NYISO_BASE_URL", &settings.base_url)?,
            client: client(&settings.http.client_options())?,
            options: settings.http.clone(),
            last: None,
        })
    }

    /// The forecast of `date`; `Ok(None)` when unchanged since the last read (304).
    async fn fetch(&mut self, date: NaiveDate) -> Result<Option<LoadForecast>, LoadForecastError> {
        let url = daily_url(&self.base_url, Dataset::Isolf, date);
        let mut backoff = self.options.backoff();
        loop {
            match self.fetch_once(&url, date).await {
                Err(LoadForecastError::Http {
                    transient: true,
                    problem,
                    ..
                }) if backoff.failures() < self.options.retries => {
                    let wait = backoff.next();
                    tracing::debug!(%url, %problem, attempt = backoff.failures(), "load forecast fetch failed; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn fetch_once(
        &mut self,
        url: &str,
        date: NaiveDate,
    ) -> Result<Option<LoadForecast>, LoadForecastError> {
        let http = |problem: String, transient: bool| LoadForecastError::Http {
            url: url.to_owned(),
            problem,
            transient,
        };
        let cached = self.last.as_ref().filter(|v| v.url == url);
        let mut request = self.client.get(url);
        if let Some(last) = cached {
            request = last.validators.apply(request);
        }
        let response = request
            .send()
            .await
            .map_err(|e| http(describe_http_error(&e), true))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && cached.is_some() {
            return Ok(None);
        }
        if status != StatusCode::OK {
            return Err(http(format!("HTTP {status}"), is_transient_status(status)));
        }
        let validators = LastRead {
            url: url.to_owned(),
            validators: Validators::of(response.headers()),
        };
        let (body, complete) = read_capped(response, MAX_CSV_BYTES)
            .await
            .map_err(|e| http(describe_http_error(&e), true))?;
        if !complete {
            return Err(http(
                format!(
                    "the body is larger than the {MAX_CSV_BYTES} bytes a load forecast may have"
                ),
                false,
            ));
        }
        let forecast = parse_isolf(&daily_file_name(Dataset::Isolf, date), &body)?;
        self.last = Some(validators);
        Ok(Some(forecast))
    }
}

/// The load forecast held, kept fresh by a background task (see the module docs). The task
/// stops when `stop` (given to [`LoadForecastFeed::spawn`]) completes or the feed is dropped.
#[derive(Debug)]
pub struct LoadForecastFeed {
    rx: watch::Receiver<Option<Arc<LoadForecast>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoadForecastFeed {
    /// Starts the fetching task on the current tokio runtime: today's file (by `now`) at once,
    /// then every `settings.refresh`, until `stop` completes.
    ///
    /// # Errors
    /// [`LoadForecastError::Setup`] for a bad `NYISO_BASE_URL` or when no HTTP client can be
    /// built; nothing is started then.
    pub fn spawn<N, S>(
        settings: &LoadForecastSettings,
        now: N,
        stop: S,
    ) -> Result<Self, LoadForecastError>
    where
        N: Fn() -> DateTime<Utc> + Send + 'static,
        S: Future<Output = ()> + Send + 'static,
    {
        let fetcher = IsolfFetcher::new(settings)?;
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(load_loop(fetcher, now, settings.refresh, tx, stop));
        Ok(LoadForecastFeed { rx, task })
    }

    /// Follows the forecast held (`None` until a file was read).
    pub fn receiver(&self) -> &watch::Receiver<Option<Arc<LoadForecast>>> {
        &self.rx
    }

    /// The forecast held now, if any file was read.
    pub fn latest(&self) -> Option<Arc<LoadForecast>> {
        self.rx.borrow().clone()
    }
}

impl Drop for LoadForecastFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetches today's load forecast now and every `refresh`, publishing what is held on `tx`,
/// until `stop` completes.
async fn load_loop<N, S>(
    mut fetcher: IsolfFetcher,
    now: N,
    refresh: Duration,
    tx: watch::Sender<Option<Arc<LoadForecast>>>,
    stop: S,
) where
    N: Fn() -> DateTime<Utc>,
    S: Future<Output = ()>,
{
    tokio::pin!(stop);
    let mut held = LoadForecast::default();
    loop {
        let now = now();
        let date = today_in_new_york(now);
        match fetcher.fetch(date).await {
            Ok(Some(fresh)) => {
                held.merge(&fresh);
                held.trim_before(now - chrono::Duration::days(1));
                tracing::info!(%date, hours = fresh.len(), held = held.len(), "NYISO load forecast read");
                tx.send_replace(Some(Arc::new(held.clone())));
            }
            Ok(None) => tracing::debug!(%date, "NYISO load forecast unchanged"),
            Err(e) => tracing::warn!(
                error = %e,
                held = held.len(),
                "NYISO load forecast unavailable; forecasting with what is held (or history alone)"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            _ = &mut stop => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_base_url_starts_nothing_and_names_the_setting() {
        let settings = LoadForecastSettings::nyiso("mis.nyiso.com/public/csv");
        let e = LoadForecastFeed::spawn(&settings, Utc::now, std::future::pending()).unwrap_err();
        assert!(matches!(e, LoadForecastError::Setup(_)), "{e}");
        assert!(e.to_string().starts_with("NYISO_BASE_URL: "), "{e}");
    }

    #[tokio::test]
    async fn the_feed_stops_with_its_stop_signal() {
        // Nothing listens there: every fetch fails at once, nothing is held.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let settings = LoadForecastSettings {
            base_url: format!("http://{addr}/csv"),
            http: HttpOptions {
                retries: 0,
                ..HttpOptions::default()
            },
            refresh: Duration::from_millis(10),
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let feed = LoadForecastFeed::spawn(&settings, Utc::now, async move {
            let _ = stop_rx.await;
        })
        .unwrap();
        assert!(feed.latest().is_none());
        stop_tx.send(()).unwrap();
        let mut rx = feed.receiver().clone();
        // The task ends, dropping its sender: the receiver sees the channel close. (The
        // timeout only keeps a broken build from hanging; it is not what is tested.)
        let closed = tokio::time::timeout(Duration::from_secs(60), rx.changed())
            .await
            .expect("the load forecast task stops");
        assert!(closed.is_err());
        assert!(feed.latest().is_none());
    }
}
