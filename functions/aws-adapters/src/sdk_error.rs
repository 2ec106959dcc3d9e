//! Classifying AWS SDK errors into the core's [`PortError`]: network failures, timeouts,
//! throttling and 5xx answers are transient; everything else (refused by policy, invalid
//! request, unknown resource) is permanent.

use aws_sdk_iotdataplane::config::http::HttpResponse;
use aws_sdk_iotdataplane::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use ny_power::ports::PortError;

/// Error codes that mean "try again later", whatever the service.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailureException",
    "InternalServerException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether an SDK error is worth retrying.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            status >= 500
                || status == 429
                || se
                    .err()
                    .code()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        // Timeouts, connection failures, unparsable responses.
        _ => true,
    }
}

/// The [`PortError`] of an SDK error, with `context` saying what was being done.
pub fn port_error<E>(context: impl Into<String>, err: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    if is_transient(err) {
        PortError::transient(context, message)
    } else {
        PortError::permanent(context, message)
    }
}
