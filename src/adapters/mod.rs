//! Adapters: the ports of [`crate::ports`] (and the demo's servers) over real systems.

pub mod backlog;
pub mod broker;
pub mod health;
pub mod influx;
pub mod mqtt;
pub mod mqtt_config;
pub mod sqlite;
pub mod web;
