//! Adapters: the ports of [`crate::ports`] (and the demo's servers) over real systems.
//!
//! [`http`] is what every HTTP client shares (the client builder, the base-URL check, the
//! capped body reader); [`nyiso`] holds the NYISO sources (over HTTP, from a folder) and the
//! load-forecast fetcher.

pub mod backlog;
pub mod broker;
pub mod health;
pub mod http;
pub mod influx;
pub mod mqtt;
pub mod mqtt_config;
pub mod nyiso;
pub mod sqlite;
pub mod web;
