//! `ny-power-archive-fn`: wiring only (see the library for the handler).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ny_power::adapters::influx::InfluxWriter;
use ny_power_archive_fn::{handle, influx_config, ArchiveFunction, Backend};
use ny_power_aws::config::{self, ArchiveBackend, ProcessEnv};
use ny_power_aws::s3::S3Archive;
use ny_power_aws::timestream::TimestreamArchive;
use ny_power_aws::{clients, logging};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init_json_logs();
    let env = ProcessEnv;
    let topics = config::topics(&env)?;
    let backend = match config::archive_backend(&env)? {
        ArchiveBackend::S3 { bucket, prefix } => {
            let sdk = clients::sdk_config().await;
            let client = clients::s3_client(&sdk, &env);
            tracing::info!(%bucket, %prefix, "archiving to S3");
            Backend::S3(S3Archive::new(client, bucket, prefix))
        }
        ArchiveBackend::Timestream { database, table } => {
            let sdk = clients::sdk_config().await;
            let client = clients::timestream_client(&sdk, &env).await?;
            tracing::info!(%database, %table, "archiving to Timestream");
            Backend::Timestream(TimestreamArchive::new(client, database, table))
        }
        ArchiveBackend::Influx => {
            let writer = InfluxWriter::new(influx_config(&env)?)?;
            tracing::info!(target_db = %writer.config().describe(), "archiving to InfluxDB");
            Backend::Influx(Box::new(writer))
        }
    };
    let function = ArchiveFunction::new(backend, topics);
    let function = &function;
    run(service_fn(move |event: LambdaEvent<Value>| {
        handle(event, function)
    }))
    .await
}
