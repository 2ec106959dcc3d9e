//! Structured JSON logs for Lambda (one JSON object per line, picked up by CloudWatch Logs).
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls) or
//! `RUST_LOG`, default `info`.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (once; later calls do nothing).
pub fn init_json_logs() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true)
        .with_ansi(false)
        .without_time()
        .try_init();
}
