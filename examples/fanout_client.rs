//! A lean MQTT-over-WebSocket load client for `scripts/bench-fanout.sh`: N subscribers in one
//! tokio process, each a bare WebSocket carrying MQTT 3.1.1 packets from rumqttc's codec
//! (CONNECT, SUBSCRIBE at QoS 0, PUBLISH), without a client event loop per subscriber, so that
//! the broker, not the client, is what is measured.
//!
//! ```text
//! fanout_client --url ws://127.0.0.1:9001/mqtt --clients 1000 --topic ny-power/upstream/fuel-mix \
//!               --expect 10 --timeout 300
//! ```
//!
//! Prints `SUBSCRIBED <n>` once every client is subscribed (the script then lets the pump
//! publish), and at the end one JSON line: how many clients connected, whether each got each of
//! the `--expect` live (non-retained) messages once (no gap in the order the messages first
//! arrived anywhere, no duplicate), and the fan-out latency: for every message, the
//! time from the first client receiving it to each client receiving it (one process, one
//! monotonic clock), as p50 / p99 / max over all deliveries.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::Message;
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use rumqttc::mqttbytes::v4::{
    self, Connect, ConnectReturnCode, Packet, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{self, QoS};

/// Command-line options.
struct Options {
    url: String,
    clients: usize,
    topic: String,
    expect: usize,
    timeout: Duration,
    parallel_handshakes: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        url: String::new(),
        clients: 0,
        topic: "ny-power/upstream/fuel-mix".to_owned(),
        expect: 1,
        timeout: Duration::from_secs(300),
        parallel_handshakes: 64,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.chunks(2);
    for pair in &mut it {
        let [flag, value] = pair else {
            return Err(format!("`{}` needs a value", pair[0]));
        };
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: `{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--url" => o.url = value.clone(),
            "--clients" => o.clients = number(value)?,
            "--topic" => o.topic = value.clone(),
            "--expect" => o.expect = number(value)?,
            "--timeout" => o.timeout = Duration::from_secs(number(value)? as u64),
            "--parallel" => o.parallel_handshakes = number(value)?.max(1),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.url.is_empty() || o.clients == 0 {
        return Err("usage: fanout_client --url ws://HOST:PORT/PATH --clients N [--topic T] [--expect M] [--timeout S] [--parallel P]".to_owned());
    }
    Ok(o)
}

/// MQTT 3.1.1 packets are encoded and decoded by rumqttc's codec (`rumqttc::mqttbytes::v4`);
/// only the transport is this file's own: one WebSocket per subscriber, no event loop, no
/// state kept but what the measurement needs.
fn encoded(
    write: impl FnOnce(&mut BytesMut) -> Result<usize, mqttbytes::Error>,
) -> Result<Vec<u8>, String> {
    let mut buf = BytesMut::new();
    write(&mut buf).map_err(|e| format!("encoding: {e}"))?;
    Ok(buf.to_vec())
}

fn connect_packet(client_id: &str) -> Result<Vec<u8>, String> {
    let mut connect = Connect::new(client_id);
    // Clean session, keep-alive at its maximum: no pings during a run.
    connect.clean_session = true;
    connect.keep_alive = u16::MAX;
    encoded(|b| connect.write(b))
}

fn subscribe_packet(topic: &str) -> Result<Vec<u8>, String> {
    // QoS 0: no acks to send back. A SUBSCRIBE needs a non-zero packet id (rumqttc's event
    // loop assigns it; here there is one SUBSCRIBE per connection).
    let mut subscribe = Subscribe::new(topic, QoS::AtMostOnce);
    subscribe.pkid = 1;
    encoded(|b| subscribe.write(b))
}

/// The largest packet a subscriber accepts (a fuel-mix payload is under 1 KiB).
const MAX_PACKET: usize = 1 << 20;

/// What one client saw: per live message (hash of topic and payload), when it arrived.
type Seen = Vec<(u64, Instant)>;

async fn client(
    id: usize,
    o: Arc<Options>,
    gate: Arc<tokio::sync::Semaphore>,
    subscribed: Arc<AtomicUsize>,
) -> Result<Seen, String> {
    let mut ws = {
        let _turn = gate.acquire().await.map_err(|e| e.to_string())?;
        let mut request = o
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            async_tungstenite::tungstenite::http::HeaderValue::from_static("mqtt"),
        );
        let uri = request.uri().clone();
        let host = uri.host().unwrap_or("127.0.0.1").to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let (mut ws, _) = async_tungstenite::tokio::client_async(request, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        ws.send(Message::Binary(connect_packet(&format!("fanout-{id}"))?))
            .await
            .map_err(|e| e.to_string())?;
        ws.send(Message::Binary(subscribe_packet(&o.topic)?))
            .await
            .map_err(|e| e.to_string())?;
        ws
    };
    let mut buf = BytesMut::new();
    let mut seen = Seen::with_capacity(o.expect);
    let mut is_subscribed = false;
    while seen.len() < o.expect {
        let Some(frame) = ws.next().await else {
            return Err("closed by the broker".to_owned());
        };
        match frame.map_err(|e| e.to_string())? {
            Message::Binary(b) => buf.extend_from_slice(&b),
            Message::Close(_) => return Err("closed by the broker".to_owned()),
            _ => continue,
        }
        let now = Instant::now();
        loop {
            let packet = match v4::read(&mut buf, MAX_PACKET) {
                Ok(packet) => packet,
                Err(mqttbytes::Error::InsufficientBytes(_)) => break,
                Err(e) => return Err(format!("decoding: {e}")),
            };
            match packet {
                Packet::ConnAck(ack) if ack.code != ConnectReturnCode::Success => {
                    return Err(format!("CONNACK refused: {:?}", ack.code));
                }
                Packet::SubAck(ack) => {
                    if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                        return Err("SUBACK refused".to_owned());
                    }
                    is_subscribed = true;
                    subscribed.fetch_add(1, Ordering::SeqCst);
                }
                // Live messages only: the retained one sent at subscribe time is not timed.
                Packet::Publish(publish) if !publish.retain && seen.len() < o.expect => {
                    let mut h = DefaultHasher::new();
                    publish.topic.hash(&mut h);
                    publish.payload.hash(&mut h);
                    seen.push((h.finish(), now));
                }
                _ => {}
            }
        }
    }
    if !is_subscribed {
        return Err("no SUBACK".to_owned());
    }
    Ok(seen)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let gate = Arc::new(tokio::sync::Semaphore::new(o.parallel_handshakes));
    let subscribed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..o.clients)
        .map(|id| tokio::spawn(client(id, o.clone(), gate.clone(), subscribed.clone())))
        .collect();
    let started = Instant::now();
    let connect_deadline = started + o.timeout / 2;
    while subscribed.load(Ordering::SeqCst) < o.clients && Instant::now() < connect_deadline {
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subscribed_now = subscribed.load(Ordering::SeqCst);
    println!(
        "SUBSCRIBED {subscribed_now} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let deadline = tokio::time::Instant::now() + o.timeout;
    let mut all: Vec<Seen> = Vec::new();
    let mut errors: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        match tokio::time::timeout_at(deadline, t).await {
            Ok(Ok(Ok(seen))) => all.push(seen),
            Ok(Ok(Err(e))) => *errors.entry(e).or_default() += 1,
            Ok(Err(e)) => *errors.entry(e.to_string()).or_default() += 1,
            Err(_) => *errors.entry("timed out".to_owned()).or_default() += 1,
        }
    }
    let mut first: HashMap<u64, Instant> = HashMap::new();
    for (key, at) in all.iter().flatten() {
        first
            .entry(*key)
            .and_modify(|t| *t = (*t).min(*at))
            .or_insert(*at);
    }
    let mut latencies: Vec<f64> = all
        .iter()
        .flatten()
        .map(|(key, at)| at.duration_since(first[key]).as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    // No gaps: each client's messages are a run without holes in the order the messages first
    // arrived anywhere (a client that subscribed late starts later, but may not skip one).
    let mut order: Vec<(Instant, u64)> = first.iter().map(|(k, t)| (*t, *k)).collect();
    order.sort();
    let index: HashMap<u64, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (_, k))| (*k, i))
        .collect();
    let (mut gaps, mut duplicates) = (0, 0);
    for seen in &all {
        let mut idx: Vec<usize> = seen.iter().map(|(k, _)| index[k]).collect();
        idx.sort_unstable();
        idx.dedup();
        if idx.len() != seen.len() {
            duplicates += 1;
        }
        if idx
            .last()
            .zip(idx.first())
            .is_some_and(|(l, f)| l - f + 1 != idx.len())
        {
            gaps += 1;
        }
    }
    let complete = all.len();
    let delivered_all = complete == o.clients
        && gaps == 0
        && duplicates == 0
        && all.iter().all(|s| s.len() == o.expect);
    let errors: Vec<String> = errors.iter().map(|(e, n)| format!("{n}x {e}")).collect();
    println!(
        "{}",
        serde_json::json!({
            "clients": o.clients,
            "subscribed": subscribed_now,
            "complete": complete,
            "expected_per_client": o.expect,
            "deliveries": latencies.len(),
            "clients_with_gaps": gaps,
            "clients_with_duplicates": duplicates,
            "delivered_all": delivered_all,
            "p50_ms": percentile(&latencies, 50.0),
            "p99_ms": percentile(&latencies, 99.0),
            "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
            "errors": errors,
        })
    );
    if delivered_all {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
