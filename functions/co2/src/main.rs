//! `ny-power-co2-fn`: wiring only (see the library for the handler).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ny_power::usecases::co2::Co2Calculator;
use ny_power_aws::config::{self, ProcessEnv};
use ny_power_aws::iot::{IotPublisher, IotRetained};
use ny_power_aws::{clients, logging};
use ny_power_co2_fn::{handle, Co2Function};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init_json_logs();
    let env = ProcessEnv;
    let topics = config::topics(&env)?;
    let factors = config::factors(&env)?;
    let ready_by = config::ready_by(&env)?;
    let sdk = clients::sdk_config().await;
    let iot = clients::iot_client(&sdk, &env);
    let function = Co2Function::new(
        IotPublisher::new(iot.clone()),
        IotRetained::new(iot),
        topics.clone(),
        Co2Calculator::new(topics, factors),
    )
    .with_ready_by(ready_by);
    let function = &function;
    run(service_fn(move |event: LambdaEvent<Value>| {
        handle(event, function)
    }))
    .await
}
