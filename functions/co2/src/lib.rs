//! The CO2 function: triggered by the IoT topic rule on `{root}/upstream/fuel-mix`, it
//! restores the rolling 24 h window from the retained `{root}/archive/co2/24h` message and the
//! forecaster from the retained `{root}/state/co2/forecaster` message (both read with
//! `GetRetainedMessage` on every invocation, concurrently), runs the core's [`Co2Calculator`]
//! and [`ForecastStep`] (the core's `Forecaster`), and publishes, retained at QoS 1, in order:
//! the intensity topics, the updated history, then the forecast, the charge windows, the band
//! and, with the first reading of each hour, the forecaster's state (`docs/forecast.md`).
//!
//! A retry of the same event republishes the same retained values (idempotent): the
//! calculator and the forecaster count each reading once, and a retry of the newest reading
//! recomputes the same forecast, so a retry after a failed publish completes it.

pub mod forecast;

use lambda_runtime::LambdaEvent;
use ny_power::co2::Co2Calculator;
use ny_power::ports::Publisher;
use ny_power::stream::{decode_fuel_mix_at, TopicKind, Topics};
use ny_power_aws::event::split_rule_event;
use ny_power_aws::iot::{load_forecaster_state, load_history, RetainedReader};
use ny_power_aws::{ErrorKind, FunctionError};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

pub use forecast::{ForecastStep, Restored};

/// What a warm container keeps between invocations.
struct Held {
    calculator: Co2Calculator,
    forecast: ForecastStep,
}

/// The function's dependencies, built once per cold start.
pub struct Co2Function<P, R> {
    publisher: P,
    retained: R,
    topics: Topics,
    held: Mutex<Held>,
}

impl<P: Publisher, R: RetainedReader> Co2Function<P, R> {
    /// A function publishing with `publisher`, restoring from `retained`, whose history and
    /// forecast use `calculator`'s factor table.
    pub fn new(publisher: P, retained: R, topics: Topics, calculator: Co2Calculator) -> Self {
        let forecast = ForecastStep::new(topics.clone(), calculator.factors());
        Co2Function {
            publisher,
            retained,
            topics,
            held: Mutex::new(Held {
                calculator,
                forecast,
            }),
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
    /// Hourly means the forecaster holds after this one (at most 31 days' worth).
    pub forecaster_hours: usize,
}

/// Handles one fuel-mix message from the topic rule.
///
/// # Errors
/// [`FunctionError`]: permanent for an event that is not a contract fuel-mix message (nothing
/// is published: also a reading out of bounds or dated in the future); retryable or not as the
/// broker says for state and publish failures. A retained history or forecaster state that
/// breaks the contract is logged and not used (the function starts clean).
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
    let now = chrono::Utc::now();
    let mix = decode_fuel_mix_at(&topic, &payload, now)?;
    let mut held = f.held.lock().await;
    let (history, state) = tokio::join!(
        load_history(&f.retained, &f.topics),
        load_forecaster_state(&f.retained, &f.topics, now)
    );
    let state_error = |e| FunctionError::from_port(ErrorKind::State, &e);
    let history = history.map_err(state_error)?;
    let state = match state.map_err(state_error)? {
        Some(Ok(state)) => Some(state),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "retained forecaster state ignored (rebuilt from the history)");
            None
        }
        None => None,
    };
    let Held {
        calculator,
        forecast,
    } = &mut *held;
    if let Some(history) = &history {
        let refused = calculator.restore(history, now);
        if refused > 0 {
            tracing::warn!(
                refused,
                "retained history: entries dated in the future or not a valid intensity left out"
            );
        }
    }
    // The calculator's window, not the raw retained one: entries it refused stay out.
    let window = history.as_ref().map(|_| calculator.history_payload());
    let restored = forecast.restore(state.as_ref(), window.as_ref());
    if let (Some(s), false) = (&state, restored.state) {
        tracing::warn!(
            factors = %s.factors,
            "retained forecaster state ignored (another factor table, or inconsistent)"
        );
    }
    let mut messages = calculator.on_fuel_mix(&mix);
    messages.extend(forecast.on_fuel_mix(&mix));
    for m in &messages {
        f.publisher
            .publish(m)
            .await
            .map_err(|e| FunctionError::from_port(ErrorKind::Publish, &e))?;
    }
    let window = calculator.history_payload().ts.len();
    let forecaster_hours = forecast.forecaster().hours_held();
    tracing::info!(
        ts = %mix.ts,
        messages = messages.len(),
        window,
        forecaster_hours,
        state_restored = restored.state,
        history_added = restored.history_added,
        "co2 published"
    );
    Ok(Co2Response {
        ts: mix.ts,
        published: messages.into_iter().map(|m| m.topic).collect(),
        window,
        forecaster_hours,
    })
}
