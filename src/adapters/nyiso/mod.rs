//! NYISO sources: the [`crate::ports::Source`] of fuel-mix readings over HTTP ([`http`]:
//! conditional and ranged polling, catch-up from monthly zips) and from a local folder
//! ([`folder`]), and the hourly load-forecast fetcher ([`isolf`]). The formats they read are
//! parsed by the pure [`crate::nyiso`].

pub mod folder;
pub mod http;
pub mod isolf;

pub use folder::FolderSource;
pub use http::{HttpOptions, HttpSource, HttpStats};
pub use isolf::{LoadForecastError, LoadForecastFeed, LoadForecastSettings, LOAD_REFRESH};
