//! Lambda event shapes. An IoT topic rule `SELECT *, topic() AS topic FROM '…'` delivers the
//! MQTT JSON payload with the topic added as a `topic` field; [`split_rule_event`] takes it
//! back out so the payload decodes with the contract's strict types (they deny unknown fields).

use serde_json::Value;

use crate::error::{ErrorKind, FunctionError};

/// The field the topic rules add (`topic() AS topic`).
pub const TOPIC_FIELD: &str = "topic";

/// Splits a topic-rule event into the topic and the original JSON payload bytes.
///
/// # Errors
/// A permanent input error when the event is not a JSON object with a string `topic`.
pub fn split_rule_event(event: Value) -> Result<(String, Vec<u8>), FunctionError> {
    let Value::Object(mut fields) = event else {
        return Err(FunctionError::permanent(
            ErrorKind::Input,
            "IoT rule event is not a JSON object (is the rule `SELECT *, topic() AS topic`?)",
        ));
    };
    let topic = match fields.remove(TOPIC_FIELD) {
        Some(Value::String(t)) => t,
        _ => return Err(FunctionError::permanent(
            ErrorKind::Input,
            "IoT rule event has no string `topic` field (the rule must select `topic() AS topic`)",
        )),
    };
    let payload = serde_json::to_vec(&Value::Object(fields))
        .map_err(|e| FunctionError::permanent(ErrorKind::Input, format!("topic `{topic}`: {e}")))?;
    Ok((topic, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn topic_is_split_off() {
        let (topic, payload) = split_rule_event(json!({
            "ts": "2025-02-01T05:05:00Z", "value": 248.75, "units": "g/kWh",
            "factors": "direct", "topic": "ny-power/computed/co2"
        }))
        .unwrap();
        assert_eq!(topic, "ny-power/computed/co2");
        let back: ny_power::stream::Co2Payload =
            ny_power::stream::decode(&topic, &payload).unwrap();
        assert_eq!(back.value, 248.75);
        let e = split_rule_event(json!({"ts": "x"})).unwrap_err();
        assert!(!e.retryable && e.message.contains("topic"), "{e}");
        assert!(split_rule_event(json!([1])).is_err());
    }
}
