//! Home Assistant MQTT discovery (opt-in, `HA_DISCOVERY=true`): retained
//! `{prefix}/sensor/{node_id}/{object_id}/config` messages that give a Home Assistant connected
//! to the same broker sensors for the CO2 intensity (with its band), the fossil share, the band
//! and the start of the cleanest 4-hour charging window. Pure: it returns the messages.
//!
//! The discovery topics are Home Assistant's namespace, not ny-power's tree, so they are built
//! here; every *state* topic they point at comes from [`Topics`]. Each sensor's availability
//! follows the retained `status/{service}` topic of the service that publishes its state; that
//! payload is JSON (`{"state":"online"}`), hence the availability `value_template`.
//!
//! Home Assistant has no device class for a CO2 *intensity* (`carbon_dioxide` is a
//! concentration in ppm and rejects other units), nor for a share of generation, so those
//! sensors carry a unit and `state_class: measurement` but no `device_class`. The window start
//! is a `timestamp` sensor and the band an `enum` sensor.

use serde::Serialize;

use crate::intensity::Factors;
use crate::stream::{Message, Topics, UNITS_G_PER_KWH};

/// Home Assistant's default discovery prefix.
pub const DEFAULT_PREFIX: &str = "homeassistant";

/// Discovery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Discovery prefix (`HA_DISCOVERY_PREFIX`, default `homeassistant`).
    pub prefix: String,
    /// Node id: one Home Assistant device per ny-power stack; derived from the topic root.
    pub node_id: String,
}

impl DiscoveryConfig {
    /// Settings for the stack under `topics` with discovery prefix `prefix`.
    pub fn new(topics: &Topics, prefix: impl Into<String>) -> Self {
        let prefix: String = prefix.into();
        DiscoveryConfig {
            prefix: prefix.trim_end_matches('/').to_owned(),
            node_id: node_id(topics.root()),
        }
    }
}

/// A topic root as a Home Assistant node id (`[a-zA-Z0-9_-]` only): `ny-power` → `ny_power`,
/// `dev/ny-power` → `dev_ny_power`.
pub fn node_id(root: &str) -> String {
    root.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `{prefix}/sensor/{node_id}/{object_id}/config`.
pub fn discovery_topic(config: &DiscoveryConfig, object_id: &str) -> String {
    format!(
        "{}/sensor/{}/{}/config",
        config.prefix, config.node_id, object_id
    )
}

/// The object ids of the sensors, in publish order.
pub const OBJECT_IDS: [&str; 6] = [
    "co2_intensity",
    "fossil_share",
    "co2_band",
    "charge_window_4h_start",
    "co2_index",
    "ready_by_4h_start",
];

/// An availability entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    /// The service's status topic.
    pub topic: String,
    /// Extracts `online`/`offline` from the JSON status payload.
    pub value_template: String,
    /// `online`.
    pub payload_available: String,
    /// `offline`.
    pub payload_not_available: String,
}

/// The device all sensors belong to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// One identifier per stack.
    pub identifiers: Vec<String>,
    /// Shown in Home Assistant.
    pub name: String,
    /// `ny-power`.
    pub manufacturer: String,
    /// What the device is.
    pub model: String,
}

/// One MQTT sensor's discovery payload (keys as Home Assistant documents them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorConfig {
    /// Display name.
    pub name: String,
    /// Stable id (lets users rename and customise the entity).
    pub unique_id: String,
    /// Where the state comes from.
    pub state_topic: String,
    /// Extracts the state from the JSON payload.
    pub value_template: String,
    /// Unit, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_of_measurement: Option<String>,
    /// Device class, where Home Assistant has a fitting one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<String>,
    /// `measurement` for numeric sensors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_class: Option<String>,
    /// Allowed states of an `enum` sensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Display precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_display_precision: Option<u32>,
    /// Material Design icon.
    pub icon: String,
    /// Attributes come from this topic's JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_topic: Option<String>,
    /// Picks the attributes out of that JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_template: Option<String>,
    /// Online/offline from the publishing service's status.
    pub availability: Vec<Availability>,
    /// The ny-power device.
    pub device: Device,
}

fn availability(topics: &Topics, service: &str) -> Vec<Availability> {
    vec![Availability {
        topic: topics.service_status(service),
        value_template: "{{ value_json.state }}".to_owned(),
        payload_available: "online".to_owned(),
        payload_not_available: "offline".to_owned(),
    }]
}

const WINDOW_4H: &str = "value_json.windows | selectattr('hours', 'equalto', 4) | first";

/// The 4 h window of the default ready-by time (`CHARGE_READY_BY`).
const READY_BY_4H: &str = "(value_json.ready_by | selectattr('time', 'equalto', value_json.ready_by_default) | first).windows | selectattr('hours', 'equalto', 4) | first";

/// The sensors' discovery payloads, keyed by object id (see [`OBJECT_IDS`]).
pub fn sensor_configs(
    topics: &Topics,
    config: &DiscoveryConfig,
) -> Vec<(&'static str, SensorConfig)> {
    let device = Device {
        identifiers: vec![config.node_id.clone()],
        name: format!("NY grid ({})", topics.root()),
        manufacturer: "ny-power".to_owned(),
        model: "NYISO fuel mix and CO2 intensity".to_owned(),
    };
    let sensor = |object_id: &str,
                  name: &str,
                  state_topic: String,
                  value_template: &str,
                  icon: &str,
                  service: &str| {
        SensorConfig {
            name: name.to_owned(),
            unique_id: format!("{}_{object_id}", config.node_id),
            state_topic,
            value_template: value_template.to_owned(),
            unit_of_measurement: None,
            device_class: None,
            state_class: None,
            options: None,
            suggested_display_precision: None,
            icon: icon.to_owned(),
            json_attributes_topic: None,
            json_attributes_template: None,
            availability: availability(topics, service),
            device: device.clone(),
        }
    };
    let intensity = SensorConfig {
        unit_of_measurement: Some(UNITS_G_PER_KWH.to_owned()),
        state_class: Some("measurement".to_owned()),
        suggested_display_precision: Some(0),
        json_attributes_topic: Some(topics.co2_band()),
        json_attributes_template: Some(
            "{{ {'band': value_json.band, 'low_below': value_json.low_below, 'high_above': value_json.high_above, 'window_days': value_json.window_days, 'learning': value_json.learning, 'index': value_json.index, 'index_boundaries': value_json.index_boundaries} | tojson }}"
                .to_owned(),
        ),
        ..sensor(
            "co2_intensity",
            "CO2 intensity",
            topics.co2(Factors::Direct),
            "{{ value_json.value | round(1) }}",
            "mdi:molecule-co2",
            "co2",
        )
    };
    let fossil = SensorConfig {
        unit_of_measurement: Some("%".to_owned()),
        state_class: Some("measurement".to_owned()),
        suggested_display_precision: Some(1),
        ..sensor(
            "fossil_share",
            "Fossil share",
            topics.fuel_mix(),
            "{{ ((value_json.fuels.dual_fuel + value_json.fuels.natural_gas + value_json.fuels.other_fossil_fuels) / value_json.total_mw * 100) | round(1) }}",
            "mdi:factory",
            "pump",
        )
    };
    let band = SensorConfig {
        device_class: Some("enum".to_owned()),
        options: Some(vec!["low".into(), "moderate".into(), "high".into()]),
        ..sensor(
            "co2_band",
            "CO2 band (30 days)",
            topics.co2_band(),
            "{{ value_json.band }}",
            "mdi:gauge",
            "co2",
        )
    };
    let window = SensorConfig {
        device_class: Some("timestamp".to_owned()),
        json_attributes_topic: Some(topics.charge_window()),
        json_attributes_template: Some(format!("{{{{ ({WINDOW_4H}) | tojson }}}}")),
        ..sensor(
            "charge_window_4h_start",
            "Cleanest 4 h charge start",
            topics.charge_window(),
            &format!("{{{{ ({WINDOW_4H}).start }}}}"),
            "mdi:ev-station",
            "co2",
        )
    };
    let index = SensorConfig {
        device_class: Some("enum".to_owned()),
        options: Some(
            crate::forecast::index::IndexLevel::ALL
                .iter()
                .map(|l| l.name().to_owned())
                .collect(),
        ),
        json_attributes_topic: Some(topics.co2_band()),
        json_attributes_template: Some(
            "{{ {'index_boundaries': value_json.index_boundaries, 'units': value_json.units} | tojson }}"
                .to_owned(),
        ),
        ..sensor(
            "co2_index",
            "CO2 index (fixed, New York)",
            topics.co2_band(),
            "{{ value_json.index }}",
            "mdi:leaf",
            "co2",
        )
    };
    let ready_by = SensorConfig {
        device_class: Some("timestamp".to_owned()),
        json_attributes_topic: Some(topics.charge_window()),
        json_attributes_template: Some(format!(
            "{{{{ dict(({READY_BY_4H}), ready_by=value_json.ready_by_default) | tojson }}}}"
        )),
        ..sensor(
            "ready_by_4h_start",
            "Cleanest 4 h charge start, ready by",
            topics.charge_window(),
            &format!("{{{{ ({READY_BY_4H}).start }}}}"),
            "mdi:car-clock",
            "co2",
        )
    };
    vec![
        ("co2_intensity", intensity),
        ("fossil_share", fossil),
        ("co2_band", band),
        ("charge_window_4h_start", window),
        ("co2_index", index),
        ("ready_by_4h_start", ready_by),
    ]
}

/// The retained discovery messages (publish once at start-up when `HA_DISCOVERY` is on, with
/// the same retained QoS 1 as every other message).
pub fn discovery_messages(topics: &Topics, config: &DiscoveryConfig) -> Vec<Message> {
    sensor_configs(topics, config)
        .into_iter()
        .filter_map(|(id, c)| Message::or_log(Message::json(discovery_topic(config, id), &c)))
        .collect()
}

/// Messages that remove the sensors again (an empty retained payload on each config topic),
/// for when discovery is switched off.
pub fn removal_messages(config: &DiscoveryConfig) -> Vec<Message> {
    OBJECT_IDS
        .iter()
        .map(|id| Message {
            topic: discovery_topic(config, id),
            payload: Vec::new(),
            retain: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_ids_follow_the_root() {
        let c = DiscoveryConfig::new(&Topics::new("dev/ny-power"), "homeassistant/");
        assert_eq!(c.node_id, "dev_ny_power");
        assert_eq!(
            discovery_topic(&c, "co2_intensity"),
            "homeassistant/sensor/dev_ny_power/co2_intensity/config"
        );
        let msgs = discovery_messages(&Topics::new("dev/ny-power"), &c);
        assert_eq!(msgs.len(), OBJECT_IDS.len());
        let v: serde_json::Value = serde_json::from_slice(&msgs[0].payload).unwrap();
        assert_eq!(v["unique_id"], "dev_ny_power_co2_intensity");
        assert_eq!(v["state_topic"], "dev/ny-power/computed/co2");
        assert_eq!(v["availability"][0]["topic"], "dev/ny-power/status/co2");
        assert!(removal_messages(&c).iter().all(|m| m.payload.is_empty()));
    }
}
