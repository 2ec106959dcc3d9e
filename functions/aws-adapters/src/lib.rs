//! # ny-power-aws
//!
//! The AWS adapters shared by the ny-power Lambda functions (`functions/pump`, `functions/co2`,
//! `functions/archive`). They implement the core's ports (`ny_power::ports`) so the functions'
//! handlers are the core's use cases with AWS wiring.
//!
//! ## Layout
//! - [`iot`]: IoT Core over the data-plane HTTPS API — [`iot::IotPublisher`] (QoS 1, retained),
//!   [`iot::IotRetained`] (retained reads), [`iot::IotCursor`] (the core's retained-message
//!   cursor over both).
//! - [`timestream`]: [`timestream::TimestreamArchive`], multi-measure records, ≤ 100 per call.
//! - `s3` (feature `s3`): `s3::S3Archive`, one JSON-lines object per point under a UTC date
//!   partition.
//! - [`clients`]: SDK clients built once per cold start (endpoint override vs discovery).
//! - [`config`]: settings from the environment, same names as the CLI.
//! - [`event`]: IoT topic-rule event payloads.
//! - [`error`]: [`error::FunctionError`], the stable retryable/permanent error type.
//! - [`logging`]: JSON logs.

pub mod clients;
pub mod config;
pub mod error;
pub mod event;
pub mod iot;
pub mod logging;
#[cfg(feature = "s3")]
pub mod s3;
mod sdk_error;
pub mod timestream;

pub use error::{ErrorKind, FunctionError};
pub use sdk_error::{is_transient, port_error};
