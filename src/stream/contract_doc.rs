//! The contract as data, for the other side of the wire: the topic tree under a root, whether
//! each topic is retained and its QoS, and one real example payload per topic — the bytes a
//! subscriber receives. `ny-power contract --json` prints it (its examples come from running
//! the pump's and the calculator's own message builders over real NYISO readings); the web
//! dashboard's tests read that output and check the page's topics and validators against it,
//! so the JavaScript side never types the contract's literals a second time.
//!
//! Pure: [`ContractDoc::from_messages`] takes messages a use case produced and keeps the newest
//! per topic; [`ContractDoc::check`] decodes every example with this module's decoders and
//! checks that every kind of topic is there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    decode, decode_forecast, decode_forecaster_state, decode_fuel_mix_at, decode_history,
    restore_cursor, ChargeWindowPayload, Co2BandPayload, Co2Payload, FuelValuePayload, Message,
    ServiceStatusPayload, StreamError, TopicKind, Topics, DEFAULT_ROOT, UNITS_G_PER_KWH, UNITS_MW,
};
use crate::intensity::Factors;
use crate::reading::Fuel;

/// The version of the MQTT contract (DESIGN §5, schema v1).
pub const SCHEMA_VERSION: u32 = 1;

/// The QoS of every publish and every subscription of the contract (AWS IoT Core has no QoS 2).
pub const QOS: u8 = 1;

/// Errors of building or checking a [`ContractDoc`].
#[derive(Debug, thiserror::Error)]
pub enum ContractDocError {
    /// No message was given for a topic of the contract.
    #[error("no example message for `{topic}` ({kind})")]
    Missing {
        /// The topic without an example.
        topic: String,
        /// Its kind ([`kind_name`]).
        kind: &'static str,
    },
    /// A message's topic is not in the contract under the document's root.
    #[error("`{topic}` is not a topic of the contract under root `{root}`")]
    UnknownTopic {
        /// The topic.
        topic: String,
        /// The root.
        root: String,
    },
    /// A topic's entry names another kind than its topic string is.
    #[error("`{topic}`: listed as {listed}, but the topic is {actual}")]
    WrongKind {
        /// The topic.
        topic: String,
        /// The kind the entry names.
        listed: String,
        /// The kind of the topic string.
        actual: &'static str,
    },
    /// An example payload does not decode as its topic's contract says.
    #[error("example on `{topic}`: {source}")]
    BadExample {
        /// The topic.
        topic: String,
        /// What the decoder said.
        source: StreamError,
    },
    /// An example payload decodes but says something its topic does not.
    #[error("example on `{topic}`: {problem}")]
    Inconsistent {
        /// The topic.
        topic: String,
        /// What is wrong.
        problem: String,
    },
}

/// The units of the contract's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsDoc {
    /// Units of generation values ([`UNITS_MW`]).
    pub power: String,
    /// Units of intensity values ([`UNITS_G_PER_KWH`]).
    pub intensity: String,
}

/// One topic of the contract with an example of what is published on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDoc {
    /// The kind of topic ([`kind_name`]: `fuel_mix`, `fuel`, `co2`, …).
    pub kind: String,
    /// The full topic under the document's root.
    pub topic: String,
    /// The fuel slug of a `fuel` topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<String>,
    /// The factor table of a `co2` topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factors: Option<String>,
    /// The service of a `service_status` topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Whether messages on it are published retained (the broker keeps the newest).
    pub retained: bool,
    /// The QoS it is published with ([`QOS`]).
    pub qos: u8,
    /// An example payload, exactly the bytes published (UTF-8 JSON text).
    pub payload: String,
}

/// The contract as one document: topic tree, retained flags, QoS, example payloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractDoc {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The default topic root ([`DEFAULT_ROOT`]).
    pub default_root: String,
    /// The root the topics below are under.
    pub root: String,
    /// The fuel slugs in contract order ([`Fuel::ALL`]).
    pub fuels: Vec<String>,
    /// The slugs counted as zero-carbon ([`Fuel::is_zero_carbon`]).
    pub zero_carbon_fuels: Vec<String>,
    /// The factor table names ([`Factors::ALL`]).
    pub factors: Vec<String>,
    /// The `band` values of `computed/co2/band`, low to high (the forecast's band levels).
    pub bands: Vec<String>,
    /// The units of values.
    pub units: UnitsDoc,
    /// Every topic, in [`every_kind`] order (status topics: every service given).
    pub topics: Vec<TopicDoc>,
}

/// A short stable name of a kind of topic (the `kind` of a [`TopicDoc`]).
pub fn kind_name(kind: &TopicKind) -> &'static str {
    // Exhaustive on purpose: a new kind of topic must get a name (and an entry in
    // `every_kind`, whose test counts the names).
    match kind {
        TopicKind::FuelMix => "fuel_mix",
        TopicKind::Fuel(_) => "fuel",
        TopicKind::Co2(_) => "co2",
        TopicKind::Co2History => "co2_history",
        TopicKind::Co2Archive => "co2_archive",
        TopicKind::Cursor => "cursor",
        TopicKind::ServiceStatus(_) => "service_status",
        TopicKind::Co2Forecast => "co2_forecast",
        TopicKind::Co2Band => "co2_band",
        TopicKind::ChargeWindow => "charge_window",
        TopicKind::ForecasterState => "forecaster_state",
    }
}

/// The topic of a kind under `topics`' root (the inverse of [`Topics::classify`]).
pub fn topic_of(topics: &Topics, kind: &TopicKind) -> String {
    match kind {
        TopicKind::FuelMix => topics.fuel_mix(),
        TopicKind::Fuel(f) => topics.fuel(*f),
        TopicKind::Co2(f) => topics.co2(*f),
        TopicKind::Co2History => topics.co2_history(),
        TopicKind::Co2Archive => topics.co2_archive(),
        TopicKind::Cursor => topics.cursor(),
        TopicKind::ServiceStatus(s) => topics.service_status(s),
        TopicKind::Co2Forecast => topics.co2_forecast(),
        TopicKind::Co2Band => topics.co2_band(),
        TopicKind::ChargeWindow => topics.charge_window(),
        TopicKind::ForecasterState => topics.forecaster_state(),
    }
}

/// Every kind of topic of the contract, in document order: one per fuel and per factor table,
/// and one status topic per service in `services`.
pub fn every_kind(services: &[&str]) -> Vec<TopicKind> {
    let mut kinds = vec![TopicKind::FuelMix];
    kinds.extend(Fuel::ALL.map(TopicKind::Fuel));
    kinds.push(TopicKind::Cursor);
    kinds.extend(Factors::ALL.map(TopicKind::Co2));
    kinds.extend([
        TopicKind::Co2Archive,
        TopicKind::Co2History,
        TopicKind::Co2Forecast,
        TopicKind::ChargeWindow,
        TopicKind::Co2Band,
        TopicKind::ForecasterState,
    ]);
    kinds.extend(
        services
            .iter()
            .map(|s| TopicKind::ServiceStatus((*s).to_owned())),
    );
    kinds
}

impl ContractDoc {
    /// The document of the messages a use case produced under `topics`: for each topic of
    /// [`every_kind`] (status topics: those that occur), the newest message given on it is
    /// its example, with its retained flag. `bands` are the names of the band levels, low to
    /// high (defined by the forecast, a layer above this one).
    ///
    /// # Errors
    /// [`ContractDocError::UnknownTopic`] for a message outside the contract,
    /// [`ContractDocError::Missing`] for a topic without a message.
    pub fn from_messages(
        topics: &Topics,
        bands: &[&str],
        messages: impl IntoIterator<Item = Message>,
    ) -> Result<ContractDoc, ContractDocError> {
        let mut newest = std::collections::BTreeMap::new();
        let mut services: Vec<String> = Vec::new();
        for m in messages {
            match topics.classify(&m.topic) {
                None => {
                    return Err(ContractDocError::UnknownTopic {
                        topic: m.topic,
                        root: topics.root().to_owned(),
                    })
                }
                Some(TopicKind::ServiceStatus(s)) if !services.contains(&s) => services.push(s),
                Some(_) => {}
            }
            newest.insert(m.topic.clone(), m);
        }
        let services: Vec<&str> = services.iter().map(String::as_str).collect();
        let mut docs = Vec::new();
        for kind in every_kind(&services) {
            let topic = topic_of(topics, &kind);
            let Some(m) = newest.remove(&topic) else {
                return Err(ContractDocError::Missing {
                    topic,
                    kind: kind_name(&kind),
                });
            };
            docs.push(TopicDoc {
                kind: kind_name(&kind).to_owned(),
                fuel: match &kind {
                    TopicKind::Fuel(f) => Some(f.slug().to_owned()),
                    _ => None,
                },
                factors: match &kind {
                    TopicKind::Co2(f) => Some(f.name().to_owned()),
                    _ => None,
                },
                service: match &kind {
                    TopicKind::ServiceStatus(s) => Some(s.clone()),
                    _ => None,
                },
                topic,
                retained: m.retain,
                qos: QOS,
                payload: m.payload_text().into_owned(),
            });
        }
        Ok(ContractDoc {
            schema: SCHEMA_VERSION,
            default_root: DEFAULT_ROOT.to_owned(),
            root: topics.root().to_owned(),
            fuels: Fuel::ALL.iter().map(|f| f.slug().to_owned()).collect(),
            zero_carbon_fuels: Fuel::ALL
                .iter()
                .filter(|f| f.is_zero_carbon())
                .map(|f| f.slug().to_owned())
                .collect(),
            factors: Factors::ALL.iter().map(|f| f.name().to_owned()).collect(),
            bands: bands.iter().map(|b| (*b).to_owned()).collect(),
            units: UnitsDoc {
                power: UNITS_MW.to_owned(),
                intensity: UNITS_G_PER_KWH.to_owned(),
            },
            topics: docs,
        })
    }

    /// Checks the document against this build's contract: every topic of [`every_kind`] is
    /// listed (at least one status topic), each entry's kind, fuel and table are its topic's,
    /// and each example decodes with the decoder the stream's consumers use (readings and
    /// states checked against the clock `now`).
    ///
    /// # Errors
    /// The first [`ContractDocError`] found.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), ContractDocError> {
        let topics = Topics::new(self.root.clone());
        let mut services: Vec<&str> = Vec::new();
        for t in &self.topics {
            let kind = self.check_entry(&topics, t, now)?;
            if let TopicKind::ServiceStatus(_) = kind {
                services.extend(t.service.as_deref());
            }
        }
        if services.is_empty() {
            return Err(ContractDocError::Missing {
                topic: topics.service_status("{service}"),
                kind: "service_status",
            });
        }
        for kind in every_kind(&services) {
            let topic = topic_of(&topics, &kind);
            if !self.topics.iter().any(|t| t.topic == topic) {
                return Err(ContractDocError::Missing {
                    topic,
                    kind: kind_name(&kind),
                });
            }
        }
        Ok(())
    }

    fn check_entry(
        &self,
        topics: &Topics,
        t: &TopicDoc,
        now: DateTime<Utc>,
    ) -> Result<TopicKind, ContractDocError> {
        let kind = topics
            .classify(&t.topic)
            .ok_or_else(|| ContractDocError::UnknownTopic {
                topic: t.topic.clone(),
                root: self.root.clone(),
            })?;
        let (fuel, factors, service) = match &kind {
            TopicKind::Fuel(f) => (Some(f.slug()), None, None),
            TopicKind::Co2(f) => (None, Some(f.name()), None),
            TopicKind::ServiceStatus(s) => (None, None, Some(s.as_str())),
            _ => (None, None, None),
        };
        if t.kind != kind_name(&kind)
            || t.fuel.as_deref() != fuel
            || t.factors.as_deref() != factors
            || t.service.as_deref() != service
        {
            return Err(ContractDocError::WrongKind {
                topic: t.topic.clone(),
                listed: t.kind.clone(),
                actual: kind_name(&kind),
            });
        }
        let topic = t.topic.as_str();
        let bytes = t.payload.as_bytes();
        let bad = |source| ContractDocError::BadExample {
            topic: t.topic.clone(),
            source,
        };
        let inconsistent = |problem: String| ContractDocError::Inconsistent {
            topic: t.topic.clone(),
            problem,
        };
        match &kind {
            TopicKind::FuelMix => {
                decode_fuel_mix_at(topic, bytes, now).map_err(bad)?;
            }
            TopicKind::Fuel(_) => {
                let p: FuelValuePayload = decode(topic, bytes).map_err(bad)?;
                if p.units != UNITS_MW {
                    return Err(inconsistent(format!("units `{}`, not MW", p.units)));
                }
            }
            TopicKind::Co2(f) => {
                let p: Co2Payload = decode(topic, bytes).map_err(bad)?;
                if p.factors != f.name() {
                    return Err(inconsistent(format!(
                        "factors `{}` on the `{}` topic",
                        p.factors,
                        f.name()
                    )));
                }
            }
            TopicKind::Co2Archive => {
                let p: Co2Payload = decode(topic, bytes).map_err(bad)?;
                if p.factors.parse::<Factors>().is_err() {
                    return Err(inconsistent(format!("unknown factors `{}`", p.factors)));
                }
            }
            TopicKind::Co2History => {
                decode_history(topic, bytes).map_err(bad)?;
            }
            TopicKind::Cursor => {
                if restore_cursor(topic, bytes, now).is_none() {
                    return Err(inconsistent("not a cursor the pump resumes from".into()));
                }
            }
            TopicKind::ServiceStatus(_) => {
                decode::<ServiceStatusPayload>(topic, bytes).map_err(bad)?;
            }
            TopicKind::Co2Forecast => {
                decode_forecast(topic, bytes).map_err(bad)?;
            }
            TopicKind::Co2Band => {
                let p: Co2BandPayload = decode(topic, bytes).map_err(bad)?;
                if !self.bands.contains(&p.band) {
                    return Err(inconsistent(format!("band `{}`", p.band)));
                }
            }
            TopicKind::ChargeWindow => {
                decode::<ChargeWindowPayload>(topic, bytes).map_err(bad)?;
            }
            TopicKind::ForecasterState => {
                decode_forecaster_state(topic, bytes, now).map_err(bad)?;
            }
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{FuelMix, Reading};
    use crate::stream::{cursor_message, reading_messages, ServiceState};
    use chrono::TimeZone;

    fn bands() -> Vec<&'static str> {
        crate::forecast::BandLevel::ALL.map(|b| b.name()).to_vec()
    }

    fn reading() -> Reading {
        // The first reading of tests/fixtures/nyiso/20250201rtfuelmix_csv.zip.
        Reading {
            ts: Utc.with_ymd_and_hms(2025, 2, 1, 5, 5, 0).unwrap(),
            mix: FuelMix([4613.0, 3487.0, 3274.0, 1.0, 232.0, 671.0, 1846.0]),
        }
    }

    /// A message of every kind, built by the crate's own producers where they are pure.
    fn messages(topics: &Topics) -> Vec<Message> {
        let r = reading();
        let mut out = reading_messages(topics, &r);
        out.push(cursor_message(topics, r.ts));
        let mut forecaster = crate::forecast::Forecaster::new(Factors::Direct);
        for table in Factors::ALL {
            let mut calc = crate::usecases::co2::Co2Calculator::new(topics.clone(), table);
            // Two days (direct: the forecaster needs the hours of a band; the other tables
            // need just a reading for their live topic).
            let n = if table == Factors::Direct {
                2 * 24 * 12
            } else {
                1
            };
            for k in 0..n {
                let ts = r.ts + chrono::Duration::minutes(5 * k);
                let mut mix = r.mix;
                mix.0[5] += (k % 288) as f64;
                let next = Reading { ts, mix };
                out.extend(calc.on_fuel_mix(&crate::stream::FuelMixPayload::of(&next)));
                if table == Factors::Direct {
                    forecaster.update(&next);
                }
            }
        }
        let newest = forecaster.newest().unwrap();
        let f = forecaster.forecast(newest, None).unwrap();
        out.push(Message::json(topics.co2_forecast(), &f.payload()).unwrap());
        out.push(
            Message::json(
                topics.charge_window(),
                &crate::forecast::charge_window_payload(&f),
            )
            .unwrap(),
        );
        out.push(Message::json(topics.co2_band(), &forecaster.band_payload().unwrap()).unwrap());
        out.push(Message::json(topics.forecaster_state(), &forecaster.state().unwrap()).unwrap());
        let status = ServiceStatusPayload {
            state: ServiceState::Online,
            since: Some(newest),
        };
        out.push(Message::json(topics.service_status("pump"), &status).unwrap());
        out
    }

    #[test]
    fn every_kind_has_one_name_and_its_topic_classifies_back() {
        let topics = Topics::new("test/root");
        let kinds = every_kind(&["pump"]);
        let mut names: Vec<&str> = kinds.iter().map(kind_name).collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        // One name per variant of `TopicKind` (`kind_name` is an exhaustive match).
        assert_eq!(names.len(), 11, "{names:?}");
        for k in &kinds {
            assert_eq!(topics.classify(&topic_of(&topics, k)).as_ref(), Some(k));
        }
        assert_eq!(kinds.len(), 1 + 7 + 1 + Factors::ALL.len() + 6 + 1);
    }

    #[test]
    fn a_document_of_real_messages_checks_and_lists_every_topic() {
        let topics = Topics::new("test-42/ny");
        let doc = ContractDoc::from_messages(&topics, &bands(), messages(&topics)).unwrap();
        let now = reading().ts + chrono::Duration::days(2);
        doc.check(now).unwrap();
        assert_eq!(doc.root, "test-42/ny");
        assert_eq!(doc.default_root, "ny-power");
        assert_eq!(doc.topics.len(), every_kind(&["pump"]).len());
        let first = &doc.topics[0];
        assert_eq!(first.topic, "test-42/ny/upstream/fuel-mix");
        assert_eq!(first.kind, "fuel_mix");
        assert!(first.retained);
        assert_eq!(first.qos, 1);
        assert_eq!(
            first.payload,
            r#"{"ts":"2025-02-01T05:05:00Z","fuels":{"dual_fuel":4613.0,"natural_gas":3487.0,"nuclear":3274.0,"other_fossil_fuels":1.0,"other_renewables":232.0,"wind":671.0,"hydro":1846.0},"total_mw":14124.0}"#
        );
        let archive = doc.topics.iter().find(|t| t.kind == "co2_archive").unwrap();
        assert!(!archive.retained, "the archive stream is not retained");
        let lifecycle = doc
            .topics
            .iter()
            .find(|t| t.factors.as_deref() == Some("lifecycle"))
            .unwrap();
        assert_eq!(lifecycle.topic, "test-42/ny/computed/co2/lifecycle");
        assert_eq!(doc.bands, ["low", "moderate", "high"]);
        assert_eq!(doc.zero_carbon_fuels, ["nuclear", "wind", "hydro"]);

        // It survives its own JSON form.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let back: ContractDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn a_missing_topic_a_stranger_or_a_bad_example_is_refused() {
        let topics = Topics::default();
        let mut msgs = messages(&topics);
        msgs.retain(|m| m.topic != topics.co2_band());
        let e = ContractDoc::from_messages(&topics, &bands(), msgs).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no example message for `ny-power/computed/co2/band` (co2_band)"
        );

        let mut msgs = messages(&topics);
        msgs.push(Message::json("other/upstream/fuel-mix".into(), &1).unwrap());
        let e = ContractDoc::from_messages(&topics, &bands(), msgs).unwrap_err();
        assert!(e.to_string().contains("not a topic of the contract"), "{e}");

        let now = reading().ts + chrono::Duration::days(2);
        let good = ContractDoc::from_messages(&topics, &bands(), messages(&topics)).unwrap();
        let mut doc = good.clone();
        let i = doc
            .topics
            .iter()
            .position(|t| t.kind == "co2_history")
            .unwrap();
        doc.topics[i].payload =
            r#"{"units":"g/kWh","ts":["2025-02-01T05:05:00Z"],"values":[]}"#.into();
        let e = doc.check(now).unwrap_err();
        assert!(e.to_string().contains("1 instants but 0 values"), "{e}");

        let mut doc = good.clone();
        let i = doc.topics.iter().position(|t| t.kind == "co2").unwrap();
        doc.topics[i].payload = doc.topics[i].payload.replace("direct", "lifecycle");
        let e = doc.check(now).unwrap_err();
        assert!(e.to_string().contains("factors `lifecycle`"), "{e}");

        let mut doc = good.clone();
        doc.topics[1].kind = "co2".into();
        assert!(matches!(
            doc.check(now),
            Err(ContractDocError::WrongKind { .. })
        ));

        let mut doc = good.clone();
        doc.topics.retain(|t| t.kind != "cursor");
        let e = doc.check(now).unwrap_err();
        assert!(e.to_string().contains("status/fuel-mix/updated"), "{e}");

        // A reading from the future is not an example a consumer accepts.
        let e = good
            .check(reading().ts - chrono::Duration::days(1))
            .unwrap_err();
        assert!(e.to_string().contains("in the future"), "{e}");
    }
}
