//! # ny-power
//!
//! New York's grid operator (NYISO) publishes generation by fuel every five minutes as CSV
//! files. ny-power turns them into a live MQTT event stream with the grid's CO2 intensity.
//!
//! ## Layout
//! - [`reading`]: the domain — the seven fuels, a fuel mix, a reading. Pure data.
//! - [`nyiso`]: NYISO files — fuel-mix CSV and monthly zip parsing under the reading policy,
//!   file names and URLs, the `isolf` load forecast, and the sources: over HTTP (conditional +
//!   ranged polling, catch-up from monthly zips) and from a local folder.
//! - [`intensity`]: emission-factor tables (data files in `data/factors/`) and intensity math.
//! - [`stream`]: the MQTT contract — topic tree and payload types. The only place topic
//!   strings are written.
//! - [`ports`]: the small capabilities use cases need (`Source`, `Publisher`, `CursorStore`,
//!   `Archive`), and [`fakes`], their in-memory versions.
//! - [`pump`], [`co2`]: the use cases — publish new readings; compute intensity and the 24 h
//!   history. [`archive`]: the points stored per message and their line protocol.
//! - [`forecast`]: the 24 h intensity forecast, cleanest charging windows, the 30-day band and
//!   the backtest; [`homeassistant`]: Home Assistant MQTT discovery payloads.
//! - [`adapters`]: I/O at the edges — MQTT (rumqttc), InfluxDB, SQLite, the on-disk backlog,
//!   the embedded broker (rumqttd), the dashboard web server, health endpoints.
//! - [`services`]: the long-running pump, calculator and archiver loops ([`config`]: their
//!   typed settings); [`replay`]: the demo's replay source and accelerated clock.
//! - [`backoff`]: the one retry schedule (capped exponential) every retry loop uses;
//!   [`quote`]: how an outside value appears in an error or a log (short, control characters
//!   escaped).
//!
//! The `ny-power` binary (`src/cli/`, one file per command) only wires these together; the AWS
//! Lambda functions live in the `functions/` workspace members.

pub mod adapters;
pub mod archive;
pub mod backoff;
pub mod co2;
#[cfg(feature = "self-hosted")]
pub mod config;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod forecast;
pub mod homeassistant;
pub mod intensity;
pub mod nyiso;
pub mod ports;
pub mod pump;
pub mod quote;
pub mod reading;
pub mod replay;
#[cfg(feature = "self-hosted")]
pub mod services;
pub mod stream;

pub use intensity::Factors;
pub use reading::{Fuel, FuelMix, Reading};
