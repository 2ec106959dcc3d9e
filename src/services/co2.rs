//! The CO2 calculator service: restores the 24 h history from the retained
//! `{root}/archive/co2/24h` message, then for every `{root}/upstream/fuel-mix` message publishes
//! what [`Co2Calculator::on_fuel_mix`] returns (`computed/co2`, `computed/co2/lifecycle`, the
//! history). A persistent session with manual acks: a reading is acknowledged only after its
//! results were published, so a restart or a broker restart loses none.

use std::time::Duration;

use super::{Common, ServiceError, Shutdown};
use crate::adapters::mqtt::{ClientOptions, Inbound, MqttClient, MqttError};
use crate::co2::Co2Calculator;
use crate::intensity::Factors;
use crate::ports::Publisher;
use crate::stream::{decode_fuel_mix, decode_history};

/// Calculator settings.
#[derive(Debug, Clone, Default)]
pub struct Co2Settings {
    /// The factor table of the history (`FACTORS`, default `direct`).
    pub factors: Factors,
}

/// The calculator's client options: persistent session, manual acks, QoS 1 subscription to
/// the combined fuel mix, status on `{root}/status/co2`.
pub fn client_options(common: &Common) -> ClientOptions {
    let mut opts = common.client_options("co2");
    opts.clean_session = false;
    opts.manual_acks = true;
    opts.subscriptions = vec![common.topics.fuel_mix()];
    opts
}

/// Runs the calculator until `shutdown`, then publishes its offline status and disconnects.
///
/// # Errors
/// [`ServiceError`] when the broker refuses the calculator.
pub async fn run(
    client: &MqttClient,
    common: &Common,
    settings: &Co2Settings,
    mut shutdown: Shutdown,
) -> Result<(), ServiceError> {
    let result = handle(client, common, settings, &mut shutdown).await;
    client.close().await;
    result
}

fn fatal(source: MqttError) -> ServiceError {
    ServiceError::Mqtt {
        service: "co2",
        source,
    }
}

async fn restore(
    client: &MqttClient,
    common: &Common,
    calc: &mut Co2Calculator,
    shutdown: &mut Shutdown,
) -> Result<bool, ServiceError> {
    let topic = common.topics.co2_history();
    let mut retry = Duration::from_millis(500);
    loop {
        let connected = tokio::select! {
            r = client.wait_connected(Duration::from_secs(3600 * 24 * 365)) => r,
            _ = shutdown.wait() => return Ok(false),
        };
        connected.map_err(fatal)?;
        match client.retained(&topic).await {
            Ok(Some(bytes)) => {
                match decode_history(&topic, &bytes) {
                    Ok(history) => {
                        calc.restore(&history);
                        tracing::info!(readings = history.ts.len(), "history restored");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "retained history ignored; starting empty")
                    }
                }
                return Ok(true);
            }
            Ok(None) => {
                tracing::info!("no retained history; starting empty");
                return Ok(true);
            }
            Err(e @ (MqttError::Refused { .. } | MqttError::SubscribeRefused { .. })) => {
                return Err(fatal(e))
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the retained history; retrying");
                if !shutdown.sleep(retry).await {
                    return Ok(false);
                }
                retry = (retry * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn acknowledge(client: &MqttClient, processed: &mut Vec<Inbound>) {
    for message in processed.drain(..) {
        if let Err(e) = client.ack(&message).await {
            tracing::warn!(error = %e, "acknowledging a fuel-mix message");
        }
    }
}

async fn handle(
    client: &MqttClient,
    common: &Common,
    settings: &Co2Settings,
    shutdown: &mut Shutdown,
) -> Result<(), ServiceError> {
    let mut calc = Co2Calculator::new(common.topics.clone(), settings.factors);
    if !restore(client, common, &mut calc, shutdown).await? {
        return Ok(());
    }
    tracing::info!(factors = settings.factors.name(), "co2 calculator started");
    // Acknowledgements wait until no further message is queued: a PUBACK followed at once by
    // a PUBLISH would sit in the socket (Nagle) until the broker's delayed TCP ACK, ~40 ms per
    // reading while catching up. Acknowledged only after the results were published.
    let mut processed = Vec::new();
    loop {
        let message = if processed.is_empty() {
            tokio::select! {
                m = client.recv() => m,
                _ = shutdown.wait() => break,
            }
        } else {
            match client.try_recv().await {
                Some(m) => Some(m),
                None => {
                    acknowledge(client, &mut processed).await;
                    continue;
                }
            }
        };
        let Some(message) = message else { break };
        match decode_fuel_mix(&message.topic, &message.payload) {
            Ok(reading) => {
                for out in calc.on_fuel_mix(&reading) {
                    let mut retry = Duration::from_millis(200);
                    while let Err(e) = client.publish(&out).await {
                        tracing::warn!(error = %e, "publishing the intensity; retrying");
                        if !shutdown.sleep(retry).await {
                            // This reading is not acknowledged: the broker delivers it again.
                            acknowledge(client, &mut processed).await;
                            return Ok(());
                        }
                        retry = (retry * 2).min(Duration::from_secs(5));
                    }
                }
                tracing::debug!(ts = %reading.ts, "intensity published");
            }
            Err(e) => tracing::warn!(error = %e, "fuel-mix message ignored"),
        }
        processed.push(message);
    }
    acknowledge(client, &mut processed).await;
    tracing::info!("co2 calculator stopping");
    Ok(())
}
