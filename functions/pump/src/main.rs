//! `ny-power-pump-fn`: wiring only (see the library for the handler).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ny_power::adapters::nyiso::{HttpOptions, HttpSource};
use ny_power::usecases::pump::Pump;
use ny_power_aws::config::{self, ProcessEnv};
use ny_power_aws::iot::{iot_cursor, IotPublisher};
use ny_power_aws::{clients, logging};
use ny_power_pump_fn::{handle, ScheduledEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init_json_logs();
    let env = ProcessEnv;
    let topics = config::topics(&env)?;
    let base_url = config::nyiso_base_url(&env)?;
    // A Lambda has at most ~50 s per poll: fewer retries than the long-running pump.
    let options = HttpOptions {
        retries: 1,
        ..HttpOptions::default()
    };
    let source = HttpSource::new(&base_url, options)?;
    let sdk = clients::sdk_config().await;
    let iot = clients::iot_client(&sdk, &env);
    let pump = Pump::new(
        source,
        IotPublisher::new(iot.clone()),
        iot_cursor(iot, topics.clone()),
        topics,
    );
    let pump = &pump;
    run(service_fn(move |event: LambdaEvent<ScheduledEvent>| {
        handle(event, pump)
    }))
    .await
}
