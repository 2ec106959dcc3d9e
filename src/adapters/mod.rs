//! Adapters: the ports of [`crate::ports`] (and the demo's servers) over real systems.

#[cfg(feature = "self-hosted")]
pub mod backlog;
#[cfg(feature = "self-hosted")]
pub mod broker;
#[cfg(feature = "self-hosted")]
pub mod health;
pub mod influx;
#[cfg(feature = "self-hosted")]
pub mod mqtt;
#[cfg(feature = "self-hosted")]
pub mod sqlite;
#[cfg(feature = "self-hosted")]
pub mod web;
