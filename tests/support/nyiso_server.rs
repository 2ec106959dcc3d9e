//! A local HTTP/1.1 server standing in for NYISO's MIS site: serves files from a temp folder on
//! 127.0.0.1 at a free port, and behaves like a real static file server —
//!
//! - strong `ETag` (length + content hash) and `Last-Modified` (the file's mtime), honouring
//!   `If-None-Match` (which takes precedence) and `If-Modified-Since` with `304`;
//! - `Range: bytes=a-` / `bytes=a-b` with `206` and `Content-Range`, `416` past the end, and
//!   `If-Range` (an ETag or a date) falling back to a full `200` when it does not match;
//! - `Accept-Ranges: bytes`, `Connection: close`.
//!
//! Switches ([`Behaviour`]) make it ignore ranges, answer 500, serve an HTML page, hang, cut
//! the body short, send an endless body, or send a gzip bomb. [`NyisoServer::put`]/[`NyisoServer::append`] change files between polls
//! (each change moves the file's mtime a minute on, so `Last-Modified` changes too). Every
//! request is recorded (method, target, headers, body) and counted with the bytes sent. POST
//! requests get [`Behaviour::post_status`] — so the same server checks the shape of requests
//! an adapter sends (e.g. the InfluxDB v2 write API).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server misbehaves (all off by default: a well-behaved server).
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Ignore `Range` (always send the whole file with 200, no `Accept-Ranges`).
    pub ignore_range: bool,
    /// Answer every GET with `500 Internal Server Error`.
    pub fail_500: bool,
    /// The body of those 500 replies (default: `Internal Server Error`).
    pub error_body: Option<Vec<u8>>,
    /// Answer every GET with `200` and an HTML error page.
    pub html: bool,
    /// Read the request and never answer.
    pub hang: bool,
    /// Declare the full `Content-Length` but send only half of the body, then close.
    pub truncate: bool,
    /// Answer every GET with `200` and a body that never ends (a fuel-mix header, then the
    /// same row over and over, no `Content-Length`), until the client hangs up.
    pub endless: bool,
    /// Answer every GET with `200`, `Content-Encoding: gzip` and this gzip body (made with
    /// [`gzip_of_zeros`] before the request, so building it never eats the client's timeout).
    pub gzip_bomb: Option<std::sync::Arc<[u8]>>,
    /// Send `ETag` headers (and honour `If-None-Match`).
    pub etag: bool,
    /// Send `Last-Modified` headers (and honour `If-Modified-Since`).
    pub last_modified: bool,
    /// Status for POST requests.
    pub post_status: u16,
    /// Body for POST requests.
    pub post_body: String,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            ignore_range: false,
            fail_500: false,
            error_body: None,
            html: false,
            hang: false,
            truncate: false,
            endless: false,
            gzip_bomb: None,
            etag: true,
            last_modified: true,
            post_status: 204,
            post_body: String::new(),
        }
    }
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/api/v2/write?org=o&bucket=b&precision=s`.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
    /// Status answered.
    pub status: u16,
}

/// Counters since start (or the last [`NyisoServer::reset_stats`]).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests answered (or hung).
    pub requests: u64,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// Bytes sent including status lines and headers.
    pub total_bytes: u64,
    /// Replies by status code.
    pub by_status: BTreeMap<u16, u64>,
}

impl Stats {
    /// Replies with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }
}

struct State {
    root: PathBuf,
    behaviour: Mutex<Behaviour>,
    stats: Mutex<Stats>,
    requests: Mutex<Vec<Recorded>>,
    /// Logical clock for file mtimes (seconds since the epoch).
    clock: Mutex<u64>,
}

/// The server (stops when dropped).
pub struct NyisoServer {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NyisoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NyisoServer {
    /// Starts a server on 127.0.0.1 at a free port, serving an empty temp folder. Call from
    /// inside a Tokio runtime; it runs on that runtime, so a test that blocks its thread
    /// (e.g. waiting for a child process) needs `#[tokio::test(flavor = "multi_thread")]`.
    pub async fn start() -> NyisoServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            root: dir.path().to_path_buf(),
            behaviour: Mutex::new(Behaviour::default()),
            stats: Mutex::new(Stats::default()),
            requests: Mutex::new(Vec::new()),
            // 2025-01-01T00:00:00Z
            clock: Mutex::new(1_735_689_600),
        });
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let _ = handle(stream, &st).await;
                });
            }
        });
        NyisoServer {
            addr,
            _dir: dir,
            state,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` (files are served at `{url}/{relative path}`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The folder served.
    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// Changes the behaviour.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.state.behaviour.lock().expect("lock"));
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.state.stats.lock().expect("lock").clone()
    }

    /// Zeroes the counters and forgets recorded requests.
    pub fn reset_stats(&self) {
        *self.state.stats.lock().expect("lock") = Stats::default();
        self.state.requests.lock().expect("lock").clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    fn touch(&self, path: &Path) {
        let mut clock = self.state.clock.lock().expect("lock");
        *clock += 60;
        let when = UNIX_EPOCH + Duration::from_secs(*clock);
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        file.set_modified(when).expect("set mtime");
    }

    /// Writes (replaces) the file at `rel` (e.g. `rtfuelmix/20250201rtfuelmix.csv`).
    pub fn put(&self, rel: &str, bytes: &[u8]) {
        let path = self.state.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write");
        self.touch(&path);
    }

    /// Appends to the file at `rel` (created if missing).
    pub fn append(&self, rel: &str, bytes: &[u8]) {
        use std::io::Write;
        let path = self.state.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let mut f = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(bytes).expect("append");
        drop(f);
        self.touch(&path);
    }

    /// Deletes the file at `rel`.
    pub fn remove(&self, rel: &str) {
        let _ = std::fs::remove_file(self.state.root.join(rel));
    }
}

fn http_date(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn parse_http_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

fn etag_of(bytes: &[u8]) -> String {
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{:x}-{h:016x}\"", bytes.len())
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Bytes of the body actually sent (less than its length when truncating).
    send: usize,
}

impl Reply {
    fn new(status: u16, body: Vec<u8>) -> Reply {
        let send = body.len();
        Reply {
            status,
            headers: Vec::new(),
            body,
            send,
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn handle(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    // Read the head.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }

    let behaviour = state.behaviour.lock().expect("lock").clone();
    let reply = if method == "POST" {
        Reply::new(
            behaviour.post_status,
            behaviour.post_body.clone().into_bytes(),
        )
        .header("Content-Type", "application/json")
    } else if behaviour.hang {
        record(state, &method, &target, &headers, &body, 0);
        {
            let mut stats = state.stats.lock().expect("lock");
            stats.requests += 1;
        }
        // Never answer; wait until the client gives up.
        let _ = stream.read(&mut chunk).await;
        return Ok(());
    } else if behaviour.endless {
        record(state, &method, &target, &headers, &body, 200);
        state.stats.lock().expect("lock").requests += 1;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n\
                    Time Stamp,Time Zone,Fuel Category,Gen MW\r\n";
        stream.write_all(head.as_bytes()).await?;
        let chunk = "02/01/2025 00:05:00,EST,Wind,671.0\r\n".repeat(2000);
        loop {
            // Ends when the client hangs up (the write fails).
            stream.write_all(chunk.as_bytes()).await?;
            state.stats.lock().expect("lock").body_bytes += chunk.len() as u64;
        }
    } else if let Some(body) = &behaviour.gzip_bomb {
        Reply::new(200, body.to_vec())
            .header("Content-Type", "text/csv")
            .header("Content-Encoding", "gzip")
    } else if behaviour.fail_500 {
        Reply::new(
            500,
            behaviour
                .error_body
                .clone()
                .unwrap_or_else(|| b"Internal Server Error".to_vec()),
        )
        .header("Content-Type", "text/plain")
    } else if behaviour.html {
        Reply::new(
            200,
            b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>Down for maintenance</body></html>\n"
                .to_vec(),
        )
        .header("Content-Type", "text/html")
    } else {
        serve_file(state, &target, &headers, &behaviour)
    };
    let mut reply = reply;
    if behaviour.truncate && reply.body.len() > 1 {
        reply.send = reply.body.len() / 2;
    }
    record(state, &method, &target, &headers, &body, reply.status);

    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if reply.status != 304 {
        out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    let head_len = bytes.len();
    bytes.extend_from_slice(&reply.body[..reply.send]);
    {
        let mut stats = state.stats.lock().expect("lock");
        stats.requests += 1;
        stats.body_bytes += reply.send as u64;
        stats.total_bytes += (head_len + reply.send) as u64;
        *stats.by_status.entry(reply.status).or_default() += 1;
    }
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// A gzip member inflating to `size` zero bytes, written by hand: one fixed-Huffman deflate
/// block of a literal zero and then back-references of 258 bytes at distance 1 (13 bits each).
pub fn gzip_of_zeros(size: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `n` bits of `value`, least significant first (header fields, extra bits).
        fn put(&mut self, value: u64, n: u32) {
            self.acc |= value << self.n;
            self.n += n;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code of `n` bits, most significant first.
        fn code(&mut self, code: u64, n: u32) {
            let mut reversed = 0;
            for i in 0..n {
                reversed |= ((code >> i) & 1) << (n - 1 - i);
            }
            self.put(reversed, n);
        }
    }
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // last block
    bits.put(1, 2); // fixed Huffman codes
    let literal_zero = |b: &mut Bits| b.code(0x30, 8);
    if size > 0 {
        literal_zero(&mut bits);
        let rest = size - 1;
        for _ in 0..rest / 258 {
            bits.code(0xc5, 8); // length 258 (code 285)
            bits.code(0, 5); // distance 1
        }
        for _ in 0..rest % 258 {
            literal_zero(&mut bits);
        }
    }
    bits.code(0, 7); // end of block (256)
    if bits.n > 0 {
        bits.out.push(bits.acc as u8); // the last, partly filled byte
    }
    let mut out = bits.out;
    // CRC-32 of `size` zero bytes.
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for _ in 0..size {
        crc = table[(crc & 0xff) as usize] ^ (crc >> 8);
    }
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

fn record(
    state: &State,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    status: u16,
) {
    state.requests.lock().expect("lock").push(Recorded {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: headers.clone(),
        body: body.to_vec(),
        status,
    });
}

fn serve_file(
    state: &State,
    target: &str,
    headers: &BTreeMap<String, String>,
    behaviour: &Behaviour,
) -> Reply {
    let path = target.split('?').next().unwrap_or_default();
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|p| p == ".." || p.is_empty()) {
        return Reply::new(404, b"Not Found".to_vec());
    }
    let file = state.root.join(rel);
    let Ok(content) = std::fs::read(&file) else {
        return Reply::new(404, b"Not Found".to_vec()).header("Content-Type", "text/plain");
    };
    let mtime = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH);
    let etag = etag_of(&content);
    let last_modified = http_date(mtime);
    let modified_at = parse_http_date(&last_modified);
    let len = content.len();

    let with_validators = |mut r: Reply| {
        if behaviour.etag {
            r = r.header("ETag", etag.clone());
        }
        if behaviour.last_modified {
            r = r.header("Last-Modified", last_modified.clone());
        }
        if !behaviour.ignore_range {
            r = r.header("Accept-Ranges", "bytes");
        }
        r
    };

    // Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let inm = headers.get("if-none-match").filter(|_| behaviour.etag);
    let not_modified = match inm {
        Some(tags) => tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag),
        None => match (
            headers
                .get("if-modified-since")
                .filter(|_| behaviour.last_modified)
                .and_then(|v| parse_http_date(v)),
            modified_at,
        ) {
            (Some(since), Some(at)) => at <= since,
            _ => false,
        },
    };
    if not_modified {
        return with_validators(Reply::new(304, Vec::new()));
    }

    let content_type = if rel.ends_with(".zip") {
        "application/zip"
    } else {
        "text/csv"
    };
    let full =
        || with_validators(Reply::new(200, content.clone())).header("Content-Type", content_type);
    let Some(range) = headers.get("range").filter(|_| !behaviour.ignore_range) else {
        return full();
    };
    if let Some(if_range) = headers.get("if-range") {
        let matches = if if_range.starts_with('"') {
            behaviour.etag && *if_range == etag
        } else if if_range.starts_with("W/") {
            false // weak validators never match If-Range
        } else {
            behaviour.last_modified
                && parse_http_date(if_range) == modified_at
                && modified_at.is_some()
        };
        if !matches {
            return full();
        }
    }
    let Some((first, last)) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let a: usize = a.trim().parse().ok()?;
            let b = if b.trim().is_empty() {
                len.checked_sub(1)?
            } else {
                b.trim().parse::<usize>().ok()?.min(len.checked_sub(1)?)
            };
            Some((a, b))
        })
    else {
        // Unsatisfiable (e.g. empty file) or unparsable: a real server answers 416 for the
        // former and ignores the latter; both fall back cleanly in clients.
        return with_validators(Reply::new(416, Vec::new()))
            .header("Content-Range", format!("bytes */{len}"));
    };
    if first >= len || first > last {
        return with_validators(Reply::new(416, Vec::new()))
            .header("Content-Range", format!("bytes */{len}"));
    }
    with_validators(Reply::new(206, content[first..=last].to_vec()))
        .header("Content-Type", content_type)
        .header("Content-Range", format!("bytes {first}-{last}/{len}"))
}
