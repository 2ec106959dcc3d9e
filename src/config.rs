//! Former home of the typed settings, now split: the broker settings are in
//! [`crate::adapters::mqtt_config`], everything else in [`crate::settings`]. Only these
//! re-exports are left, for code that still names the old paths (`adapters/mqtt.rs` imports
//! `crate::config::{BrokerUrl, MqttConfig}`); new code uses the new paths.

pub use crate::adapters::mqtt_config::{read_secret, BrokerUrl, MqttConfig, Secret};
pub use crate::settings::{
    parse_discovery_prefix, parse_now, parse_poll_interval, ConfigError, LoadForecastSource,
    LogFormat,
};
