//! The CO2 function: triggered by the IoT topic rule on `{root}/upstream/fuel-mix`, it
//! restores the rolling 24 h window from the retained `{root}/archive/co2/24h` message, runs
//! the core's [`Co2Calculator`] and publishes the intensity topics and the updated history.
//!
//! A retry of the same event republishes the same retained values (idempotent).

use lambda_runtime::LambdaEvent;
use ny_power::co2::Co2Calculator;
use ny_power::ports::Publisher;
use ny_power::stream::{decode_fuel_mix, TopicKind, Topics};
use ny_power_aws::event::split_rule_event;
use ny_power_aws::iot::{load_history, RetainedReader};
use ny_power_aws::{ErrorKind, FunctionError};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// The function's dependencies, built once per cold start.
pub struct Co2Function<P, R> {
    publisher: P,
    retained: R,
    topics: Topics,
    calculator: Mutex<Co2Calculator>,
}

impl<P: Publisher, R: RetainedReader> Co2Function<P, R> {
    /// A function publishing with `publisher`, restoring from `retained`, whose history uses
    /// `calculator`'s factor table.
    pub fn new(publisher: P, retained: R, topics: Topics, calculator: Co2Calculator) -> Self {
        Co2Function {
            publisher,
            retained,
            topics,
            calculator: Mutex::new(calculator),
        }
    }
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Co2Response {
    /// The reading's instant.
    pub ts: chrono::DateTime<chrono::Utc>,
    /// Topics published, in order.
    pub published: Vec<String>,
    /// Readings in the 24 h window after this one.
    pub window: usize,
}

/// Handles one fuel-mix message from the topic rule.
///
/// # Errors
/// [`FunctionError`]: permanent for an event that is not a contract fuel-mix message (nothing
/// is published); retryable or not as the broker says for state and publish failures.
pub async fn handle<P: Publisher, R: RetainedReader>(
    event: LambdaEvent<Value>,
    f: &Co2Function<P, R>,
) -> Result<Co2Response, FunctionError> {
    let (topic, payload) = split_rule_event(event.payload)?;
    if f.topics.classify(&topic) != Some(TopicKind::FuelMix) {
        return Err(FunctionError::permanent(
            ErrorKind::Input,
            format!(
                "topic `{topic}` is not {} (check the topic rule)",
                f.topics.fuel_mix()
            ),
        ));
    }
    let mix = decode_fuel_mix(&topic, &payload)?;
    let mut calc = f.calculator.lock().await;
    let history = load_history(&f.retained, &f.topics)
        .await
        .map_err(|e| FunctionError::from_port(ErrorKind::State, &e))?;
    if let Some(history) = history {
        calc.restore(&history);
    }
    let messages = calc.on_fuel_mix(&mix);
    for m in &messages {
        f.publisher
            .publish(m)
            .await
            .map_err(|e| FunctionError::from_port(ErrorKind::Publish, &e))?;
    }
    let window = calc.history_payload().ts.len();
    tracing::info!(ts = %mix.ts, messages = messages.len(), window, "co2 published");
    Ok(Co2Response {
        ts: mix.ts,
        published: messages.into_iter().map(|m| m.topic).collect(),
        window,
    })
}
