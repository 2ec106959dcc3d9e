//! NYISO over HTTP: the live [`Source`] of fuel-mix readings.
//!
//! Each poll fetches the fuel-mix file of "today" in New York, yesterday's as well for a while
//! after midnight (NYISO appends late rows), and — after downtime — every day back to the
//! cursor's: daily files for the last [`HttpOptions::daily_window_days`] days, monthly zips for
//! older ones. All files of one poll are parsed together ([`FuelMixAccumulator`]), so a reading
//! whose rows straddle two files joins up.
//!
//! Polling is cheap: a per-URL cache keeps each file's bytes and validators, so an unchanged
//! file costs a `304 Not Modified` and a grown one only its appended tail (a `Range` request).
//! A ranged reply is only used when it provably continues the cached bytes: it must start
//! where it was asked to (a few bytes *before* the cached end) and those overlapping bytes must
//! equal the cached ones; otherwise — the server ignored the range, the file shrank or was
//! rewritten — the whole file is downloaded again. (`If-Range` is deliberately not sent: its
//! validator is the cached version's, which an appended file no longer matches, so it would
//! turn every ranged poll into a full download.)
//!
//! **A cut-off last row is not a fact.** NYISO's files end without a line break, so a body cut
//! inside the last number (`…,Hydro,30` for `…,Hydro,3068.0`) would still parse. The newest
//! reading of a daily file whose last line is unterminated is therefore held back until a later
//! fetch confirms those bytes — unchanged (a `304`, or the same body), or continued by a line
//! break and more rows — and no reading at or after it is returned meanwhile. For today's file
//! (and yesterday's while NYISO may still append to it) the confirming fetch is the next poll,
//! so the newest reading comes out one poll interval later; a finished day's file is confirmed
//! by a second, conditional request right away (normally a `304`), so a catch-up or a backfill
//! is not held up.
//!
//! **Bounded whatever a server sends.** A body is read as it arrives ([`read_capped`]) and
//! abandoned past [`MAX_CSV_BYTES`] (a daily file) or [`MAX_ZIP_BYTES`] (a monthly zip),
//! counted after gzip decoding, so an endless body or a gzip bomb costs at most that much
//! memory; zip members are bounded when inflated (see [`crate::nyiso::MAX_MEMBER_BYTES`]). An
//! error page is read up to [`MAX_ERROR_BODY_BYTES`] and quoted short ([`crate::quote`]).
//!
//! A transient failure of one request (timeout, connection error, 5xx, 408, 429) is tried
//! again [`HttpOptions::retries`] times, waiting on a [`Backoff`] from [`HttpOptions::backoff`]
//! (capped at [`MAX_RETRY_WAIT`]). Anything wrong in a poll — a rejected file (HTML page,
//! truncated row, bad value, too large), an HTTP error, a timeout after the retries — fails the
//! whole poll: nothing is returned, so the pump publishes nothing and does not move its cursor.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

use crate::adapters::http::{
    base_url, client, describe_http_error, is_transient_status, read_capped, HttpClientOptions,
    HttpSetupError, Validators, MAX_RETRY_WAIT, USER_AGENT,
};
use crate::backoff::Backoff;
use crate::nyiso::{
    daily_url, monthly_zip_url, split_unterminated, Dataset, FuelMixAccumulator, ParseError,
    ParseProblem, MAX_CSV_BYTES, MAX_ZIP_BYTES, NEW_YORK,
};
use crate::ports::{PortError, Source};
use crate::quote::quote_bytes;
use crate::reading::Reading;

/// The most bytes read of an error reply (its start is quoted in the error).
pub const MAX_ERROR_BODY_BYTES: u64 = 4 << 10;

/// Settings of [`HttpSource`]. `Default` gives the production values.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (connect, headers and body).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Extra attempts after a transient failure (timeout, connection error, 5xx, 429).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one (at most
    /// [`MAX_RETRY_WAIT`]).
    pub backoff: Duration,
    /// Days (today included) for which NYISO serves daily files; older days are read from
    /// the monthly zip.
    pub daily_window_days: u32,
    /// Without a cursor, how many days before today to read as well (0: today only).
    pub initial_lookback_days: u32,
    /// For how long after New York midnight yesterday's file is fetched again (late rows).
    pub yesterday_recheck: Duration,
    /// For how long after New York midnight a missing (404) file for today means "no data
    /// yet" rather than an error.
    pub today_missing_grace: Duration,
    /// Ask for the appended tail of a file already seen (`Range`).
    pub range_requests: bool,
    /// How many already-held bytes a ranged request asks for again, to check that the reply
    /// continues the cached file.
    pub range_overlap: u64,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_secs(1),
            daily_window_days: 7,
            initial_lookback_days: 0,
            yesterday_recheck: Duration::from_secs(3600),
            today_missing_grace: Duration::from_secs(2 * 3600),
            range_requests: true,
            range_overlap: 128,
            user_agent: USER_AGENT.to_owned(),
        }
    }
}

impl HttpOptions {
    /// The client part of these options (timeouts, user agent).
    pub fn client_options(&self) -> HttpClientOptions {
        HttpClientOptions {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            user_agent: self.user_agent.clone(),
        }
    }

    /// The retry schedule of one request: [`HttpOptions::backoff`] doubling up to
    /// [`MAX_RETRY_WAIT`].
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.backoff, MAX_RETRY_WAIT)
    }
}

/// Download counters of an [`HttpSource`] (since it was created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Response body bytes received.
    pub bytes_downloaded: u64,
    /// `304 Not Modified` replies (the cached file was used).
    pub not_modified: u64,
    /// `206 Partial Content` replies used to extend a cached file.
    pub partial: u64,
    /// `200 OK` replies (whole files).
    pub full: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    not_modified: AtomicU64,
    partial: AtomicU64,
    full: AtomicU64,
}

/// A file as last received: its bytes and validators.
#[derive(Clone)]
struct Cached {
    body: Vec<u8>,
    validators: Validators,
}

/// The outcome of fetching one URL.
enum Fetched {
    /// The file; `unchanged` when these are the very bytes the previous fetch of the URL gave.
    Body {
        body: Vec<u8>,
        unchanged: bool,
    },
    NotFound,
}

/// A file to read in a poll.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Wanted {
    /// The monthly zip of the month starting on this date.
    Month(NaiveDate),
    /// A daily file.
    Day(NaiveDate),
}

/// NYISO fuel-mix files over HTTP (see the module docs).
pub struct HttpSource {
    client: reqwest::Client,
    base_url: String,
    options: HttpOptions,
    cache: Mutex<HashMap<String, Cached>>,
    counters: Counters,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource")
            .field("base_url", &self.base_url)
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// A source reading `{base_url}/rtfuelmix/…` (e.g. [`crate::nyiso::DEFAULT_BASE_URL`]).
    ///
    /// # Errors
    /// [`HttpSetupError`] when the URL is not an absolute http(s) URL (named as
    /// `NYISO_BASE_URL`) or the client cannot be built.
    pub fn new(base: &str, options: HttpOptions) -> Result<Self, HttpSetupError> {
        let base_url = base_url("NYISO_BASE_URL", base)?;
        let client = client(&options.client_options())?;
        Ok(HttpSource {
            client,
            base_url,
            options,
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Download counters so far.
    pub fn stats(&self) -> HttpStats {
        let c = &self.counters;
        HttpStats {
            requests: c.requests.load(Ordering::Relaxed),
            bytes_downloaded: c.bytes.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            partial: c.partial.load(Ordering::Relaxed),
            full: c.full.load(Ordering::Relaxed),
        }
    }

    /// Complete readings with `after < ts <= until`, choosing daily files or monthly zips as
    /// NYISO serves them at `now` (for a backfill, `until` is the end of the range and `now`
    /// the wall clock; for live polling both are now).
    ///
    /// # Errors
    /// [`PortError::Rejected`] when a file is not a fuel-mix file, [`PortError::Transient`]
    /// for network errors, timeouts, HTTP 5xx and missing files NYISO should have,
    /// [`PortError::Permanent`] for other HTTP 4xx replies. Nothing is returned then.
    pub async fn readings_between(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        let today = now.with_timezone(&NEW_YORK).date_naive();
        let last = until.with_timezone(&NEW_YORK).date_naive().min(today);
        let wanted = self.plan(after, last, now);
        let mut acc = FuelMixAccumulator::new();
        let mut used = HashSet::new();
        let mut months_done = HashSet::new();
        // The earliest instant held back (see the module docs): nothing at or after it is
        // returned by this poll.
        let mut held: Option<DateTime<Utc>> = None;
        for want in wanted {
            match want {
                Wanted::Month(first) => {
                    if months_done.insert(first) {
                        self.add_month(first, &mut acc, &mut used).await?;
                    }
                }
                Wanted::Day(day) => {
                    let url = daily_url(&self.base_url, Dataset::RtFuelMix, day);
                    used.insert(url.clone());
                    match self.fetch(&url, true).await? {
                        Fetched::Body {
                            mut body,
                            mut unchanged,
                        } => {
                            let still_written = day == today
                                || (day.succ_opt() == Some(today)
                                    && since_local_midnight(now) < self.options.yesterday_recheck);
                            let pending = !unchanged && !split_unterminated(&body).1.is_empty();
                            if pending && !still_written {
                                // A finished day: NYISO writes it no more, so a second look
                                // right away (normally a 304) confirms the bytes.
                                if let Fetched::Body {
                                    body: again,
                                    unchanged: same,
                                } = self.fetch(&url, true).await?
                                {
                                    (body, unchanged) = (again, same);
                                }
                            }
                            if let Some(ts) = self.add_daily(&url, &body, unchanged, &mut acc)? {
                                tracing::debug!(%url, %ts, "last line unterminated: the newest reading waits for a later fetch to confirm it");
                                held = Some(held.map_or(ts, |h| h.min(ts)));
                            }
                        }
                        Fetched::NotFound if day == today => {
                            let since_midnight = since_local_midnight(now);
                            if since_midnight > self.options.today_missing_grace {
                                return Err(PortError::transient(
                                    format!("GET {url}"),
                                    format!(
                                        "404 Not Found: NYISO has no file for today ({day}) \
                                         {} minutes after midnight",
                                        since_midnight.as_secs() / 60
                                    ),
                                ));
                            }
                            tracing::debug!(%url, "no file for today yet");
                        }
                        Fetched::NotFound => {
                            // Older than NYISO keeps daily files: read the month's zip.
                            let first = first_of_month(day);
                            tracing::debug!(%url, "daily file gone; reading the monthly zip");
                            if months_done.insert(first) {
                                self.add_month(first, &mut acc, &mut used).await?;
                            }
                        }
                    }
                }
            }
        }
        // Keep only what this poll used: bounded memory, and the files next polls need.
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|url, _| used.contains(url));
        }
        let parsed = acc.finish();
        for inc in &parsed.incomplete {
            tracing::debug!(ts = %inc.ts, file = %inc.file, line = inc.line, "incomplete reading left out");
        }
        for bad in &parsed.invalid {
            tracing::warn!("{bad}");
        }
        let latest = crate::reading::latest_acceptable(now);
        let ahead: Vec<&Reading> = parsed.readings.iter().filter(|r| r.ts > latest).collect();
        if let Some(first) = ahead.first() {
            tracing::warn!(
                count = ahead.len(),
                first = %first.ts,
                %now,
                "readings dated too far in the future refused: not used, the cursor stays"
            );
        }
        Ok(parsed
            .readings
            .into_iter()
            .filter(|r| after.is_none_or(|a| r.ts > a) && r.ts <= until)
            .take_while(|r| held.is_none_or(|h| r.ts < h))
            .collect())
    }

    /// The files to read, oldest first (zips before daily files of the same days).
    fn plan(
        &self,
        after: Option<DateTime<Utc>>,
        last: NaiveDate,
        now: DateTime<Utc>,
    ) -> Vec<Wanted> {
        let today = now.with_timezone(&NEW_YORK).date_naive();
        let mut first = match after {
            Some(a) => a.with_timezone(&NEW_YORK).date_naive(),
            None => today - chrono::Days::new(u64::from(self.options.initial_lookback_days)),
        };
        if since_local_midnight(now) < self.options.yesterday_recheck {
            first = first.min(today - chrono::Days::new(1));
        }
        let mut wanted = Vec::new();
        let mut day = first;
        while day <= last {
            let age = (today - day).num_days();
            if age >= i64::from(self.options.daily_window_days) {
                let month = Wanted::Month(first_of_month(day));
                if !wanted.contains(&month) {
                    wanted.push(month);
                }
            } else {
                wanted.push(Wanted::Day(day));
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        wanted.sort();
        wanted
    }

    async fn add_month(
        &self,
        first: NaiveDate,
        acc: &mut FuelMixAccumulator,
        used: &mut HashSet<String>,
    ) -> Result<(), PortError> {
        let url = monthly_zip_url(&self.base_url, Dataset::RtFuelMix, first);
        used.insert(url.clone());
        match self.fetch(&url, false).await? {
            Fetched::Body { body, .. } => self.add(&url, &body, acc),
            Fetched::NotFound => Err(PortError::transient(
                format!("GET {url}"),
                format!(
                    "404 Not Found: NYISO has no monthly archive for {}",
                    first.format("%Y-%m")
                ),
            )),
        }
    }

    /// Parses a fetched file into the accumulator; a rejected file is dropped from the cache so
    /// the next poll downloads it whole.
    fn add(&self, url: &str, body: &[u8], acc: &mut FuelMixAccumulator) -> Result<(), PortError> {
        acc.add(url, body).map_err(|e| self.rejected(url, e))
    }

    /// Parses a fetched daily file, which may still be being written
    /// ([`FuelMixAccumulator::add_growing`]); returns the instant held back, if any.
    fn add_daily(
        &self,
        url: &str,
        body: &[u8],
        unchanged: bool,
        acc: &mut FuelMixAccumulator,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        acc.add_growing(url, body, unchanged)
            .map_err(|e| self.rejected(url, e))
    }

    fn rejected(&self, url: &str, e: ParseError) -> PortError {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(url);
        }
        PortError::Rejected(e)
    }

    /// Fetches a URL with retries and backoff on transient failures.
    async fn fetch(&self, url: &str, ranged: bool) -> Result<Fetched, PortError> {
        let mut backoff = self.options.backoff();
        loop {
            match self.fetch_once(url, ranged).await {
                Err(e) if backoff.failures() < self.options.retries && is_transient(&e) => {
                    let wait = backoff.next();
                    tracing::warn!(%url, error = %e, attempt = backoff.failures(), "NYISO fetch failed; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn fetch_once(&self, url: &str, ranged: bool) -> Result<Fetched, PortError> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(url).cloned());
        let Some(cached) = cached else {
            return self.fetch_full(url, None, ranged).await;
        };
        let mut request = cached.validators.apply(self.client.get(url));
        let len = cached.body.len() as u64;
        let start = len.saturating_sub(self.options.range_overlap);
        let use_range = ranged && self.options.range_requests && len > 0;
        if use_range {
            request = request.header(RANGE, format!("bytes={start}-"));
        }
        let response = self.send(url, request).await?;
        let status = response.status();
        match status {
            StatusCode::NOT_MODIFIED => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                Ok(Fetched::Body {
                    body: cached.body,
                    unchanged: true,
                })
            }
            StatusCode::PARTIAL_CONTENT if use_range => {
                let headers = response.headers().clone();
                let tail = self.body(url, response, ranged).await?;
                match extend(&cached.body, start, &headers, &tail) {
                    Some(body) if body.len() as u64 > MAX_CSV_BYTES => {
                        Err(PortError::Rejected(ParseError {
                            file: url.to_owned(),
                            line: None,
                            problem: ParseProblem::TooLarge(MAX_CSV_BYTES),
                        }))
                    }
                    Some(body) => {
                        self.counters.partial.fetch_add(1, Ordering::Relaxed);
                        self.store(url, &headers, &body);
                        let unchanged = body == cached.body;
                        Ok(Fetched::Body { body, unchanged })
                    }
                    None => {
                        tracing::debug!(%url, "ranged reply does not continue the cached file; downloading it whole");
                        self.fetch_full(url, Some(&cached.body), ranged).await
                    }
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                tracing::debug!(%url, "file shrank; downloading it whole");
                self.fetch_full(url, Some(&cached.body), ranged).await
            }
            _ => self.finish(url, response, Some(&cached.body), ranged).await,
        }
    }

    /// An unconditional GET of the whole file; `previous` is the body the last fetch gave.
    async fn fetch_full(
        &self,
        url: &str,
        previous: Option<&[u8]>,
        csv: bool,
    ) -> Result<Fetched, PortError> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(url);
        }
        let response = self.send(url, self.client.get(url)).await?;
        self.finish(url, response, previous, csv).await
    }

    /// Handles a reply that is not a 304/206: a whole file, a 404 or an error.
    async fn finish(
        &self,
        url: &str,
        response: reqwest::Response,
        previous: Option<&[u8]>,
        csv: bool,
    ) -> Result<Fetched, PortError> {
        let status = response.status();
        let context = || format!("GET {url}");
        if status == StatusCode::OK {
            let headers = response.headers().clone();
            let body = self.body(url, response, csv).await?;
            self.counters.full.fetch_add(1, Ordering::Relaxed);
            self.store(url, &headers, &body);
            let unchanged = previous == Some(body.as_slice());
            return Ok(Fetched::Body { body, unchanged });
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(url);
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(Fetched::NotFound);
        }
        let text = read_capped(response, MAX_ERROR_BODY_BYTES)
            .await
            .map(|(bytes, _)| bytes)
            .unwrap_or_default();
        let message = format!("HTTP {status}: {}", quote_bytes(text.trim_ascii()));
        if is_transient_status(status) {
            Err(PortError::transient(context(), message))
        } else {
            Err(PortError::permanent(context(), message))
        }
    }

    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PortError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        request
            .send()
            .await
            .map_err(|e| PortError::transient(format!("GET {url}"), describe_http_error(&e)))
    }

    /// Reads a body as it arrives, up to [`MAX_CSV_BYTES`] for a daily file (`csv`) or
    /// [`MAX_ZIP_BYTES`] for a zip; a longer one is abandoned and rejected.
    async fn body(
        &self,
        url: &str,
        response: reqwest::Response,
        csv: bool,
    ) -> Result<Vec<u8>, PortError> {
        let limit = if csv { MAX_CSV_BYTES } else { MAX_ZIP_BYTES };
        let too_large = || {
            tracing::warn!(%url, limit, "response body larger than a NYISO file may be; abandoned");
            PortError::Rejected(ParseError {
                file: url.to_owned(),
                line: None,
                problem: ParseProblem::TooLarge(limit),
            })
        };
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let (bytes, complete) = read_capped(response, limit)
            .await
            .map_err(|e| PortError::transient(format!("GET {url}"), describe_http_error(&e)))?;
        self.counters
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if complete {
            Ok(bytes)
        } else {
            Err(too_large())
        }
    }

    fn store(&self, url: &str, headers: &HeaderMap, body: &[u8]) {
        let entry = Cached {
            body: body.to_vec(),
            validators: Validators::of(headers),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(url.to_owned(), entry);
        }
    }
}

#[async_trait]
impl Source for HttpSource {
    /// The readings after `after` up to `now` (a reading dated later waits for the clock;
    /// one dated later than now plus [`crate::reading::MAX_FUTURE_SLACK`] is warned about).
    async fn readings_after(
        &self,
        after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reading>, PortError> {
        self.readings_between(after, now, now).await
    }
}

/// The cached file extended by a ranged reply, if the reply provably continues it: it starts
/// at `start`, runs to the end of the file, and its first bytes equal the cached ones from
/// `start` on.
fn extend(cached: &[u8], start: u64, headers: &HeaderMap, tail: &[u8]) -> Option<Vec<u8>> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let (first, last, total) = parse_content_range(range)?;
    if first != start || last.checked_sub(first)?.checked_add(1)? != tail.len() as u64 {
        return None;
    }
    if total.is_some_and(|t| t != last + 1) {
        return None;
    }
    let start = usize::try_from(start).ok()?;
    let overlap = cached.get(start..)?;
    if tail.len() < overlap.len() || &tail[..overlap.len()] != overlap {
        return None;
    }
    let mut body = Vec::with_capacity(start + tail.len());
    body.extend_from_slice(&cached[..start]);
    body.extend_from_slice(tail);
    Some(body)
}

/// `bytes 100-199/200` → (100, 199, Some(200)); `bytes 100-199/*` → (100, 199, None).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let first = first.trim().parse().ok()?;
    let last = last.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (last >= first).then_some((first, last, total))
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Time since the last New York midnight at `now`.
fn since_local_midnight(now: DateTime<Utc>) -> Duration {
    let local = now.with_timezone(&NEW_YORK);
    let secs = local
        .time()
        .signed_duration_since(NaiveTime::MIN)
        .num_seconds();
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn is_transient(e: &PortError) -> bool {
    matches!(e, PortError::Transient { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn source(options: HttpOptions) -> HttpSource {
        HttpSource::new("http://127.0.0.1:9/csv", options).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn plans_today_only_without_cursor() {
        let s = source(HttpOptions::default());
        // 12:00 EST on 2025-02-10.
        let now = Utc.with_ymd_and_hms(2025, 2, 10, 17, 0, 0).unwrap();
        let today = d(2025, 2, 10);
        assert_eq!(s.plan(None, today, now), vec![Wanted::Day(today)]);
    }

    #[test]
    fn plans_yesterday_right_after_midnight() {
        let s = source(HttpOptions::default());
        // 00:30 EST on 2025-02-10.
        let now = Utc.with_ymd_and_hms(2025, 2, 10, 5, 30, 0).unwrap();
        assert_eq!(
            s.plan(None, d(2025, 2, 10), now),
            vec![Wanted::Day(d(2025, 2, 9)), Wanted::Day(d(2025, 2, 10))]
        );
        // 01:30 EST: yesterday is done.
        let now = Utc.with_ymd_and_hms(2025, 2, 10, 6, 30, 0).unwrap();
        assert_eq!(
            s.plan(None, d(2025, 2, 10), now),
            vec![Wanted::Day(d(2025, 2, 10))]
        );
    }

    #[test]
    fn plans_catch_up_with_monthly_zips_for_old_days() {
        let s = source(HttpOptions::default());
        // 12:00 EST on 2025-03-05; cursor 2025-01-30 12:00 EST.
        let now = Utc.with_ymd_and_hms(2025, 3, 5, 17, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2025, 1, 30, 17, 0, 0).unwrap();
        let plan = s.plan(Some(after), d(2025, 3, 5), now);
        let mut expected = vec![Wanted::Month(d(2025, 1, 1)), Wanted::Month(d(2025, 2, 1))];
        for day in 27..=28 {
            expected.push(Wanted::Day(d(2025, 2, day)));
        }
        for day in 1..=5 {
            expected.push(Wanted::Day(d(2025, 3, day)));
        }
        assert_eq!(plan, expected);
        // With no cursor and a lookback of 2 days.
        let s = source(HttpOptions {
            initial_lookback_days: 2,
            ..HttpOptions::default()
        });
        assert_eq!(
            s.plan(None, d(2025, 3, 5), now),
            vec![
                Wanted::Day(d(2025, 3, 3)),
                Wanted::Day(d(2025, 3, 4)),
                Wanted::Day(d(2025, 3, 5))
            ]
        );
    }

    #[test]
    fn ranged_reply_must_continue_the_cached_file() {
        let cached = b"header\nrow1\nrow2\n";
        let mut headers = HeaderMap::new();
        // Asked from byte 12 (the overlap "row2\n"), got "row2\nrow3\n".
        headers.insert(CONTENT_RANGE, "bytes 12-21/22".parse().unwrap());
        assert_eq!(
            extend(cached, 12, &headers, b"row2\nrow3\n").as_deref(),
            Some(&b"header\nrow1\nrow2\nrow3\n"[..])
        );
        // Overlap differs: the file was rewritten.
        assert_eq!(extend(cached, 12, &headers, b"rowX\nrow3\n"), None);
        // Starts elsewhere than asked.
        headers.insert(CONTENT_RANGE, "bytes 0-9/22".parse().unwrap());
        assert_eq!(extend(cached, 12, &headers, b"row2\nrow3\n"), None);
        // Not to the end of the file.
        headers.insert(CONTENT_RANGE, "bytes 12-21/40".parse().unwrap());
        assert_eq!(extend(cached, 12, &headers, b"row2\nrow3\n"), None);
        // Shorter than the overlap (the file shrank into it).
        headers.insert(CONTENT_RANGE, "bytes 12-13/14".parse().unwrap());
        assert_eq!(extend(cached, 12, &headers, b"ro"), None);
        // No Content-Range at all.
        assert_eq!(extend(cached, 12, &HeaderMap::new(), b"row2\n"), None);
    }

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }

    #[test]
    fn bad_base_url_is_refused() {
        assert!(HttpSource::new("mis.nyiso.com/public/csv", HttpOptions::default()).is_err());
        assert!(HttpSource::new("ftp://x/y", HttpOptions::default()).is_err());
        let e = HttpSource::new("ftp://x/y", HttpOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("NYISO_BASE_URL: `ftp://x/y` "),
            "{e}"
        );
        let s = HttpSource::new("http://127.0.0.1:9/csv/", HttpOptions::default()).unwrap();
        assert_eq!(s.base_url(), "http://127.0.0.1:9/csv");
    }

    #[test]
    fn request_retries_double_from_the_backoff_option_up_to_the_cap() {
        let options = HttpOptions {
            backoff: Duration::from_secs(4),
            ..HttpOptions::default()
        };
        let mut b = options.backoff();
        let waits: Vec<u64> = (0..5).map(|_| b.next().as_secs()).collect();
        assert_eq!(waits, [4, 8, 16, 30, 30]);
    }
}
