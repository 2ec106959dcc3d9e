//! # ny-power
//!
//! New York's grid operator (NYISO) publishes generation by fuel every five minutes as CSV
//! files. ny-power turns them into a live MQTT event stream with the grid's CO2 intensity.
//!
//! ## Layout
//! - [`reading`]: the domain — the seven fuels, a fuel mix, a reading. Pure data.
//! - [`nyiso`]: NYISO files — fuel-mix CSV and monthly zip parsing under the reading policy,
//!   file names and URLs.
//! - [`intensity`]: emission-factor tables (data files in `data/factors/`) and intensity math.
//! - [`stream`]: the MQTT contract — topic tree and payload types. The only place topic
//!   strings are written.
//! - [`ports`]: the small capabilities use cases need (`Source`, `Publisher`, `CursorStore`,
//!   `Archive`), and [`fakes`], their in-memory versions.
//! - [`pump`], [`co2`]: the use cases — publish new readings; compute intensity and the 24 h
//!   history. [`archive`]: the points stored per message and their line protocol.

pub mod adapters;
pub mod archive;
pub mod co2;
pub mod config;
pub mod fakes;
pub mod forecast;
pub mod homeassistant;
pub mod intensity;
pub mod nyiso;
pub mod ports;
pub mod pump;
pub mod reading;
pub mod replay;
pub mod services;
pub mod stream;

pub use intensity::Factors;
pub use reading::{Fuel, FuelMix, Reading};
