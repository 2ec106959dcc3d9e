//! # ny-power
//!
//! New York's grid operator (NYISO) publishes generation by fuel every five minutes as CSV
//! files. ny-power turns them into a live MQTT event stream with the grid's CO2 intensity.
//!
//! ## Layout
//! - [`reading`]: the domain — the seven fuels, a fuel mix, a reading. Pure data.
//! - [`nyiso`]: NYISO files, pure — fuel-mix CSV and monthly zip parsing under the reading
//!   policy, the `isolf` load forecast, a file's size limits, file names and URLs. No I/O.
//! - [`intensity`]: emission-factor tables (data files in `data/factors/`) and intensity math.
//! - [`stream`]: the MQTT contract — topic tree and payload types. The only place topic
//!   strings are written.
//! - [`ports`]: every capability the use cases need, in one file (`Source`, `Publisher`,
//!   `RetainedReader`, `CursorStore`, `Archive`, `ArchiveSink`, `Clock`), and [`fakes`], their
//!   in-memory versions.
//! - [`usecases`]: each use case written once for every mode (services, demo, Lambdas) —
//!   [`usecases::pump`] (publish new readings), [`usecases::co2`] (one `Co2Step`: intensity,
//!   24 h history, forecast, charging windows, band, forecaster state, and its restore recipe
//!   from retained messages), [`usecases::cursor`] (the pump's cursor is a retained message).
//!   A use case imports only the domain, the stream contract, the ports and the pure math
//!   (intensity, forecast, archive points); never adapters, services or the CLI.
//!   [`archive`]: the points stored per message and their line protocol.
//! - [`forecast`]: the 24 h intensity forecast, cleanest charging windows, the 30-day band and
//!   the backtest; [`homeassistant`]: Home Assistant MQTT discovery payloads.
//! - [`adapters`]: I/O at the edges — the NYISO sources (`adapters::nyiso`: over HTTP with
//!   conditional + ranged polling and catch-up from monthly zips, from a local folder, and the
//!   hourly load-forecast fetcher), what every HTTP client shares (`adapters::http`: the client
//!   builder, the base-URL check, the capped body reader), MQTT (rumqttc), InfluxDB, SQLite,
//!   the on-disk backlog, the embedded broker (rumqttd), the dashboard web server, health
//!   endpoints.
//! - [`services`]: the long-running pump, calculator and archiver loops; [`replay`]: the
//!   demo's replay source and accelerated clock.
//! - [`settings`]: each shared setting once — its name, default and check (no clap; the CLI's
//!   flag groups and the Lambdas' environment readers both use it). The broker settings
//!   (`MQTT_*`) are the MQTT adapter's ([`adapters::mqtt_config`]).
//! - [`backoff`]: the one retry schedule (capped exponential) every retry loop uses;
//!   [`quote`]: how an outside value appears in an error or a log (short, control characters
//!   escaped).
//!
//! The `ny-power` binary (`src/cli/`, one file per command) only wires these together; the AWS
//! Lambda functions live in the `functions/` workspace members.
//!
//! ## Architecture: which layer may import which
//! 1. **Pure domain and contract**: [`reading`], [`nyiso`], [`intensity`], [`stream`],
//!    [`forecast`], [`archive`], [`homeassistant`], [`quote`], [`backoff`]. No I/O; they import
//!    only each other.
//! 2. **[`ports`]**: the traits; imports layer 1 only.
//! 3. **[`usecases`]**: imports layers 1 and 2; never an adapter, a service or the CLI.
//! 4. **[`adapters`]**: implement the ports over real systems; import layers 1 and 2 (never a
//!    use case or a service). [`settings`] checks values with the adapters' checks.
//! 5. **Shells**: `services` and `replay` (long-running loops and the demo's clock), the CLI,
//!    and the Lambda crates: they build adapters and hand them to the use cases.
//!
//! ## Cargo features
//! - `self-hosted` (default): the MQTT services, the embedded broker, SQLite, the web server,
//!   the CLI (`clap`, `indicatif`) and the demo's bundled days. The Lambda crates depend on the
//!   core with `default-features = false` and compile none of it.
//! - `fakes`: the in-memory ports (`fakes`), for tests only; nothing that ships enables it.

pub mod adapters;
pub mod archive;
pub mod backoff;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod forecast;
pub mod homeassistant;
pub mod intensity;
pub mod nyiso;
pub mod ports;
pub mod quote;
pub mod reading;
pub mod replay;
#[cfg(feature = "self-hosted")]
pub mod services;
pub mod settings;
pub mod stream;
pub mod usecases;

pub use intensity::Factors;
pub use reading::{Fuel, FuelMix, Reading};
