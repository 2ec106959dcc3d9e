//! Adapters: the ports of [`crate::ports`] (and the demo's servers) over real systems.
//!
//! [`http`] is what every HTTP client shares (the client builder, the base-URL check, the
//! capped body reader); [`nyiso`] holds the NYISO sources (over HTTP, from a folder) and the
//! load-forecast fetcher.

#[cfg(feature = "self-hosted")]
pub mod backlog;
#[cfg(feature = "self-hosted")]
pub mod broker;
#[cfg(feature = "self-hosted")]
pub mod health;
pub mod http;
pub mod influx;
#[cfg(feature = "self-hosted")]
pub mod mqtt;
#[cfg(feature = "self-hosted")]
pub mod mqtt_config;
#[cfg(feature = "self-hosted")]
pub mod mqtt_tls;
pub mod nyiso;
#[cfg(feature = "self-hosted")]
pub mod sqlite;
#[cfg(feature = "self-hosted")]
pub mod web;
