//! The use cases: each thing ny-power does, written once for every mode (the self-hosted
//! services, the demo, the AWS Lambda functions). A use case is plain code over the
//! [ports](crate::ports) it needs: it decides what to read, compute and publish; the adapter
//! behind each port does the I/O, and the service loop or Lambda handler around it only wires
//! and retries.
//!
//! ## Architecture
//! A use case may import the domain ([`crate::reading`]), the stream contract
//! ([`crate::stream`]), the ports ([`crate::ports`]) and the pure math: [`crate::intensity`],
//! [`crate::forecast`], [`crate::archive`] (and the pure load-forecast format the forecast
//! takes, [`crate::nyiso::isolf::LoadForecast`]). Never [`crate::adapters`],
//! [`crate::services`] or the CLI: those import the use cases, not the other way round.
//!
//! - [`pump`]: new complete readings since the cursor become the contract's messages.
//! - [`co2`]: the CO2 step — intensities, the 24 h history, the forecast, the charging
//!   windows, the band and the forecaster's state — and its restore recipe from retained
//!   messages ([`co2::Co2Step`]).
//! - [`cursor`]: the pump's cursor is a retained message ([`cursor::RetainedCursor`]).

pub mod co2;
pub mod cursor;
pub mod pump;
