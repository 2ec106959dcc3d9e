//! The functions' stable error type: every failure a handler returns is a [`FunctionError`],
//! classified as retryable or not, with a stable `errorType` for Lambda
//! (`Retryable.<Kind>` / `Permanent.<Kind>`, e.g. `Retryable.Publish`), so failure
//! destinations and alarms can match on it.

use std::fmt;

use lambda_runtime::Diagnostic;
use ny_power::ports::PortError;
use ny_power::stream::StreamError;
use ny_power::usecases::pump::PumpError;

/// What part of the function failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Missing or invalid configuration (environment variables).
    Config,
    /// The event did not follow the contract (bad payload, missing topic).
    Input,
    /// The upstream source (NYISO) failed or its data was rejected.
    Source,
    /// Reading the pump's cursor or the retained history failed.
    State,
    /// Publishing to the broker failed.
    Publish,
    /// Writing to the archive failed.
    Archive,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "Config",
            ErrorKind::Input => "Input",
            ErrorKind::Source => "Source",
            ErrorKind::State => "State",
            ErrorKind::Publish => "Publish",
            ErrorKind::Archive => "Archive",
        })
    }
}

/// A handler's failure: what failed, whether a retry may succeed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} error ({}): {message}", if *.retryable { "retryable" } else { "permanent" })]
pub struct FunctionError {
    /// What part failed.
    pub kind: ErrorKind,
    /// Whether retrying the same event later may succeed.
    pub retryable: bool,
    /// What went wrong, naming the topic, file, line or variable involved.
    pub message: String,
}

impl FunctionError {
    /// A permanent error.
    pub fn permanent(kind: ErrorKind, message: impl ToString) -> Self {
        FunctionError {
            kind,
            retryable: false,
            message: message.to_string(),
        }
    }

    /// A retryable error.
    pub fn retryable(kind: ErrorKind, message: impl ToString) -> Self {
        FunctionError {
            kind,
            retryable: true,
            message: message.to_string(),
        }
    }

    /// A port error, keeping its retry classification.
    pub fn from_port(kind: ErrorKind, error: &PortError) -> Self {
        FunctionError {
            kind,
            retryable: error.is_retryable(),
            message: error.to_string(),
        }
    }

    /// The stable Lambda `errorType`: `Retryable.<Kind>` or `Permanent.<Kind>`.
    pub fn error_type(&self) -> String {
        let class = if self.retryable {
            "Retryable"
        } else {
            "Permanent"
        };
        format!("{class}.{}", self.kind)
    }
}

impl From<StreamError> for FunctionError {
    fn from(e: StreamError) -> Self {
        FunctionError::permanent(ErrorKind::Input, e)
    }
}

impl From<PumpError> for FunctionError {
    fn from(e: PumpError) -> Self {
        let kind = match &e {
            PumpError::Cursor(_) => ErrorKind::State,
            PumpError::Source(_) => ErrorKind::Source,
            PumpError::Publish { .. } => ErrorKind::Publish,
        };
        FunctionError {
            kind,
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(e: FunctionError) -> Self {
        Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_stable() {
        let e = FunctionError::from_port(
            ErrorKind::Publish,
            &PortError::transient("publish to ny-power/computed/co2", "timeout"),
        );
        let d: Diagnostic = e.into();
        assert_eq!(d.error_type, "Retryable.Publish");
        assert_eq!(
            d.error_message,
            "Publish error (retryable): publish to ny-power/computed/co2: timeout"
        );
        let e = FunctionError::permanent(ErrorKind::Config, "TOPIC_ROOT is empty");
        assert_eq!(e.error_type(), "Permanent.Config");
    }
}
