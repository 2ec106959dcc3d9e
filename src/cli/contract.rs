//! `ny-power contract [--json]`: the MQTT contract as data — every topic under the root,
//! retained or not, its QoS, and one example payload each, produced by running the pump's and
//! the calculator's own message builders over the bundled real NYISO days (the demo's replay
//! data). The web dashboard's tests read the JSON form (`web/test.sh`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use ny_power::forecast::BandLevel;
use ny_power::intensity::Factors;
use ny_power::nyiso::FuelMixAccumulator;
use ny_power::reading::Reading;
use ny_power::stream::contract_doc::ContractDoc;
use ny_power::stream::{
    cursor_message, reading_messages, FuelMixPayload, Message, ServiceState, ServiceStatusPayload,
    Topics,
};
use ny_power::usecases::co2::{Co2Step, StatePolicy};

use super::settings::TopicArgs;

/// Arguments of `contract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON document (topics, retained flags, QoS, example payloads) instead of a
    /// table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    topics: TopicArgs,
}

/// The services that announce a status topic (`status/{service}`).
const SERVICES: [&str; 3] = ["pump", "co2", "archive"];

/// Runs `contract`.
pub fn run(args: Args) -> ExitCode {
    match document(&args).and_then(|doc| print(&doc, args.json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", super::common::error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The bundled days' readings, oldest first.
fn readings() -> anyhow::Result<Vec<Reading>> {
    let mut acc = FuelMixAccumulator::new();
    for (name, bytes) in ny_power::replay::BUNDLED_DAYS {
        acc.add(name, bytes)?;
    }
    Ok(acc.finish().readings)
}

/// The messages the pipeline publishes for `readings`, in publish order: per reading the pump's
/// messages and cursor; then the calculator's, as the services compute them ([`Co2Step`]): one
/// with `ny-power-2016` (so that table's live topic has an example), then the default `direct`
/// one, whose history, forecast, charge windows, band and forecaster state are the examples;
/// last each service's `online` status.
fn messages(topics: &Topics, readings: &[Reading]) -> anyhow::Result<Vec<Message>> {
    let newest = readings
        .last()
        .context("the bundled days hold no reading")?;
    let mut out = Vec::new();
    for r in readings {
        out.extend(reading_messages(topics, r));
        out.push(cursor_message(topics, r.ts));
        // Only the newest message per topic is kept: drop the rest at once.
        keep_newest(&mut out);
    }
    for table in [Factors::NyPower2016, Factors::Direct] {
        let mut step = Co2Step::new(topics.clone(), table, StatePolicy::Hourly);
        for r in readings {
            out.extend(step.on_fuel_mix(&FuelMixPayload::of(r), None));
            keep_newest(&mut out);
        }
    }
    for service in SERVICES {
        let status = ServiceStatusPayload {
            state: ServiceState::Online,
            since: Some(newest.ts),
        };
        out.push(Message::json(topics.service_status(service), &status)?);
    }
    Ok(out)
}

/// Keeps only the last message of each topic (order otherwise unchanged).
fn keep_newest(messages: &mut Vec<Message>) {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Message> = messages
        .drain(..)
        .rev()
        .filter(|m| seen.insert(m.topic.clone()))
        .collect();
    kept.reverse();
    *messages = kept;
}

/// The checked contract document under the `--topic-root`.
fn document(args: &Args) -> anyhow::Result<ContractDoc> {
    let topics = args.topics.topics()?;
    let readings = readings()?;
    let bands = BandLevel::ALL.map(BandLevel::name);
    let doc = ContractDoc::from_messages(&topics, &bands, messages(&topics, &readings)?)?;
    // Checked against the newest reading's instant: a consumer with that clock accepts all.
    let now = readings.last().map(|r| r.ts).context("no reading")?;
    doc.check(now)?;
    Ok(doc)
}

fn print(doc: &ContractDoc, json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        serde_json::to_writer_pretty(&mut out, doc)?;
        writeln!(out)?;
    } else {
        writeln!(out, "schema v{}, root `{}`", doc.schema, doc.root)?;
        for t in &doc.topics {
            let retained = if t.retained {
                "retained"
            } else {
                "not retained"
            };
            writeln!(
                out,
                "{:<48} {:<16} {:<12} QoS {}",
                t.topic, t.kind, retained, t.qos
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
