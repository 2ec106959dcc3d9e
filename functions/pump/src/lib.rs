//! The pump function: invoked every minute by EventBridge Scheduler, it runs one poll of the
//! core's [`Pump`] — new complete NYISO readings since the cursor are published to IoT Core in
//! contract order, the cursor (the retained status message) moving after each reading.
//!
//! A Lambda retry, a duplicate scheduler delivery or a cold start resumes from the cursor,
//! so each reading is published once.

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use ny_power::ports::{CursorStore, Publisher, Source};
use ny_power::usecases::pump::Pump;
use ny_power_aws::FunctionError;
use serde::{Deserialize, Serialize};

/// The scheduler's event. The schedule's input is
/// `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`; the poll looks at NYISO as of that
/// instant (or now, when absent). Other fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScheduledEvent {
    /// When the schedule fired.
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PumpResponse {
    /// Readings published by this invocation.
    pub published: usize,
    /// The cursor after it.
    pub cursor: Option<DateTime<Utc>>,
}

/// One poll.
///
/// # Errors
/// [`FunctionError`] from the pump: the cursor names the last reading fully published.
pub async fn handle<S: Source, P: Publisher, C: CursorStore>(
    event: LambdaEvent<ScheduledEvent>,
    pump: &Pump<S, P, C>,
) -> Result<PumpResponse, FunctionError> {
    let now = event.payload.scheduled_time.unwrap_or_else(Utc::now);
    match pump.poll_once(now).await {
        Ok(out) => {
            tracing::info!(published = out.published, cursor = ?out.cursor, %now, "poll done");
            Ok(PumpResponse {
                published: out.published,
                cursor: out.cursor,
            })
        }
        Err(e) => {
            let e = FunctionError::from(e);
            tracing::error!(error_type = %e.error_type(), error = %e, "poll failed");
            Err(e)
        }
    }
}
