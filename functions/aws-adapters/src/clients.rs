//! Building the SDK clients once per cold start. Against real AWS the IoT client uses the
//! account's data endpoint (`IOT_ENDPOINT`) and the Timestream client uses endpoint
//! discovery (which Timestream requires). With an endpoint override (`AWS_ENDPOINT_URL`, e.g.
//! a local AWS-compatible server in tests) all are plain clients on that endpoint: endpoint
//! discovery would resolve to the real AWS host.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{endpoint_override, iot_endpoint, Env};
use crate::error::{ErrorKind, FunctionError};

/// The shared SDK configuration (region, credentials) from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The IoT data-plane client: override endpoint, else `IOT_ENDPOINT`, else the SDK default.
pub fn iot_client(sdk: &SdkConfig, env: &impl Env) -> aws_sdk_iotdataplane::Client {
    let endpoint = endpoint_override(env, "IOT_DATA_PLANE").or_else(|| iot_endpoint(env));
    let mut conf = aws_sdk_iotdataplane::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        conf = conf.endpoint_url(url);
    }
    aws_sdk_iotdataplane::Client::from_conf(conf.build())
}

/// The Timestream write client: a plain client on the override endpoint when one is set,
/// otherwise a client with endpoint discovery (its refresh task runs in the background).
///
/// # Errors
/// A retryable error when endpoint discovery fails at start.
pub async fn timestream_client(
    sdk: &SdkConfig,
    env: &impl Env,
) -> Result<aws_sdk_timestreamwrite::Client, FunctionError> {
    if let Some(url) = endpoint_override(env, "TIMESTREAM_WRITE") {
        let conf = aws_sdk_timestreamwrite::config::Builder::from(sdk)
            .endpoint_url(url)
            .build();
        return Ok(aws_sdk_timestreamwrite::Client::from_conf(conf));
    }
    let (client, reload) = aws_sdk_timestreamwrite::Client::new(sdk)
        .with_endpoint_discovery_enabled()
        .await
        .map_err(|e| {
            FunctionError::retryable(
                ErrorKind::Archive,
                format!("Timestream endpoint discovery failed: {e}"),
            )
        })?;
    tokio::spawn(reload.reload_task());
    Ok(client)
}

/// The S3 client (feature `s3`): on the override endpoint when one is set (path-style addressing, as local
/// S3-compatible servers need), otherwise the SDK default for the region.
#[cfg(feature = "s3")]
pub fn s3_client(sdk: &SdkConfig, env: &impl Env) -> aws_sdk_s3::Client {
    let mut conf = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(url) = endpoint_override(env, "S3") {
        conf = conf.endpoint_url(url).force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}
