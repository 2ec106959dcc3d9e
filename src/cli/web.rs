//! `ny-power web`: the dashboard's static files and `config.json` (the Kubernetes dashboard
//! container; the demo serves the same with its own broker URL). `/healthz` answers 200.
//! Every response carries the security headers of `ny_power::adapters::web`; a client must send
//! its request headers within `HTTP_HEADER_TIMEOUT` seconds, and at most
//! `HTTP_MAX_CONNECTIONS` connections are open at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ny_power::adapters::web::{WebConfig, WebLimits, WebServer};
use ny_power::settings::LogFormat;

use super::common::{init_logging, stop_signal};
use super::settings::TopicArgs;

/// Arguments of `web`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "HTTP_ADDR",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    http_addr: SocketAddr,
    /// The built dashboard (`web/dist`).
    #[arg(
        long,
        env = "WEB_DIR",
        default_value = "/usr/share/ny-power/web",
        value_name = "DIR"
    )]
    web_dir: PathBuf,
    /// The broker's MQTT-over-WebSocket URL as browsers reach it (`wss://host/mqtt`, or a path
    /// such as `/mqtt` on the page's own host), written into `config.json`.
    #[arg(long, env = "PUBLIC_MQTT_WS_URL", value_name = "URL")]
    public_mqtt_ws_url: String,
    #[command(flatten)]
    topics: TopicArgs,
    /// Minutes after which the page calls a reading stale.
    #[arg(
        long,
        env = "STALE_AFTER_MINUTES",
        default_value_t = 15,
        value_name = "MIN"
    )]
    stale_after_minutes: u32,
    /// Seconds a client has to send a request's headers before its connection is closed.
    #[arg(
        long,
        env = "HTTP_HEADER_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECONDS"
    )]
    http_header_timeout: f64,
    /// Most HTTP connections open at once; further ones wait until one closes.
    #[arg(
        long,
        env = "HTTP_MAX_CONNECTIONS",
        default_value_t = 512,
        value_name = "N"
    )]
    http_max_connections: usize,
}

/// The connection limits from the flags.
fn limits(args: &Args) -> Result<WebLimits, String> {
    let t = args.http_header_timeout;
    if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
        return Err(format!(
            "HTTP_HEADER_TIMEOUT `{t}`: must be a number of seconds greater than 0, at most 3600"
        ));
    }
    if args.http_max_connections == 0 {
        return Err("HTTP_MAX_CONNECTIONS must be at least 1".to_owned());
    }
    Ok(WebLimits {
        header_timeout: Duration::from_secs_f64(t),
        max_connections: args.http_max_connections,
    })
}

fn check_ws_url(url: &str) -> Result<(), String> {
    let ok = url.starts_with("ws://")
        || url.starts_with("wss://")
        || (url.starts_with('/') && !url.starts_with("//"));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "PUBLIC_MQTT_WS_URL `{url}`: must be a ws:// or wss:// URL, or a path starting with /"
        ))
    }
}

/// Runs `web` until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> ExitCode {
    init_logging(LogFormat::Text);
    let topics = match args.topics.topics() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = check_ws_url(&args.public_mqtt_ws_url) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.stale_after_minutes == 0 {
        eprintln!("error: STALE_AFTER_MINUTES must be at least 1");
        return ExitCode::FAILURE;
    }
    let limits = match limits(&args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = WebConfig {
        topic_root: topics.root().to_owned(),
        stale_after_minutes: args.stale_after_minutes,
        ..WebConfig::new(args.public_mqtt_ws_url.clone())
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = WebServer::start_with(
            args.http_addr,
            &args.web_dir,
            config,
            limits,
            stop_signal(),
        )
        .await?;
        tracing::info!(addr = %server.addr(), dir = %args.web_dir.display(), "serving the dashboard");
        server.stopped().await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        web: Args,
    }

    fn parse(extra: &[&str]) -> Result<WebLimits, String> {
        let mut all = vec!["x", "--public-mqtt-ws-url", "/mqtt"];
        all.extend_from_slice(extra);
        limits(&Cli::try_parse_from(all).map_err(|e| e.to_string())?.web)
    }

    #[test]
    fn connection_limits_from_flags() {
        assert_eq!(parse(&[]).unwrap(), WebLimits::default());
        let l = parse(&[
            "--http-header-timeout",
            "2.5",
            "--http-max-connections",
            "64",
        ])
        .unwrap();
        assert_eq!(l.header_timeout, Duration::from_millis(2500));
        assert_eq!(l.max_connections, 64);
        for bad in [
            &["--http-header-timeout", "0"][..],
            &["--http-header-timeout", "NaN"][..],
            &["--http-max-connections", "0"][..],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
