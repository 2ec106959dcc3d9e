//! Helpers shared by the integration tests: real services started by the test itself on free
//! loopback ports.
//!
//! - [`nyiso_server::NyisoServer`]: a local HTTP server standing in for NYISO (files from a
//!   temp folder; ETag / Last-Modified / Range like a real server; switches for failures;
//!   counters; it also records every request and answers POSTs, for request-shape tests).
//! - [`influx::Influxd`]: a real `influxd` (1.x) with its own temp config, data and ports.
//! - [`pki::Pki`]: certificates made by the test (CAs, server and client certificates).
//!
//! Each test binary uses a subset, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod influx;
pub mod mosquitto;
pub mod nyiso_server;
pub mod pki;

use std::net::TcpListener;

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The February 2025 monthly zip (real NYISO data).
pub const FEB_2025_ZIP: &[u8] = include_bytes!("../fixtures/nyiso/20250201rtfuelmix_csv.zip");

/// One member of a zip (e.g. `20250201rtfuelmix.csv` of [`FEB_2025_ZIP`]).
pub fn zip_member(zip: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut file = archive.by_name(name).expect("member in zip");
    let mut out = Vec::new();
    file.read_to_end(&mut out).expect("readable member");
    out
}
