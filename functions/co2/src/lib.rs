//! The CO2 function: triggered by the IoT topic rule on `{root}/upstream/fuel-mix`, it runs
//! the core's CO2 step ([`Co2Step`], policy [`StatePolicy::FromRetained`]): on every
//! invocation it reads the retained `{root}/archive/co2/24h` and `{root}/state/co2/forecaster`
//! messages ([`read_retained_inputs`]: `GetRetainedMessage`, concurrently), restores the step
//! from them ([`Co2Step::restore`]), and publishes what [`Co2Step::on_fuel_mix`] returns,
//! retained at QoS 1, in order: the intensity topics, the updated history, then the forecast,
//! the charge windows, the band and, when the retained state is absent or from an earlier hour,
//! the forecaster's state (`docs/forecast.md`).
//!
//! A retry of the same event republishes the same retained values (idempotent): the
//! calculator and the forecaster count each reading once, and a retry of the newest reading
//! recomputes the same forecast, so a retry after a failed publish completes it.

use lambda_runtime::LambdaEvent;
use ny_power::forecast::ready_by::ReadyBy;
use ny_power::ports::{Publisher, RetainedReader};
use ny_power::stream::{decode_fuel_mix_at, TopicKind, Topics};
use ny_power::usecases::co2::{read_retained_inputs, Co2Calculator, Co2Step, StatePolicy};
use ny_power_aws::event::split_rule_event;
use ny_power_aws::{ErrorKind, FunctionError};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// The function's dependencies, built once per cold start; the step is what a warm container
/// keeps between invocations.
pub struct Co2Function<P, R> {
    publisher: P,
    retained: R,
    topics: Topics,
    step: Mutex<Co2Step>,
}

impl<P: Publisher, R: RetainedReader> Co2Function<P, R> {
    /// A function publishing with `publisher`, restoring from `retained`, whose history and
    /// forecast use `calculator`'s factor table.
    pub fn new(publisher: P, retained: R, topics: Topics, calculator: Co2Calculator) -> Self {
        Co2Function {
            publisher,
            retained,
            topics,
            step: Mutex::new(Co2Step::with_calculator(
                calculator,
                StatePolicy::FromRetained,
            )),
        }
    }

    /// The same function with `ready_by` as the charge windows' default ready-by time
    /// (`CHARGE_READY_BY`; the payload's `ready_by_default`).
    pub fn with_ready_by(self, ready_by: ReadyBy) -> Self {
        Co2Function {
            step: Mutex::new(self.step.into_inner().with_ready_by(ready_by)),
            ..self
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
    let mut step = f.step.lock().await;
    let retained = read_retained_inputs(&f.retained, &f.topics, now)
        .await
        .map_err(|e| FunctionError::from_port(ErrorKind::State, &e))?;
    let restored = step.restore(&retained, now);
    let messages = step.on_fuel_mix(&mix, None);
    for m in &messages {
        f.publisher
            .publish(m)
            .await
            .map_err(|e| FunctionError::from_port(ErrorKind::Publish, &e))?;
    }
    let window = step.calculator().history_payload().ts.len();
    let forecaster_hours = step.forecaster().hours_held();
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
