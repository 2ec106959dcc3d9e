// The page's contract (src/contract.js) and validators (src/validate.js, routed by
// src/store.js) against the Rust side's own description of the stream: the output of
// `ny-power contract --json`, which web/test.sh writes to test/generated/ before these tests
// run (once under the default root, once under `test-42/ny`). Its example payloads are what
// the pump and the calculator publish for real NYISO readings, so nothing here types the
// contract's literals again.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BANDS, DEFAULT_TOPIC_ROOT, FACTORS, FIELDS, FUELS, QOS, UNITS, ZERO_CARBON_FUELS } from "../src/contract.js";
import { applyMessage, createState, createStats, dashboardTopicTable, topicTable } from "../src/store.js";

const GENERATED = {
  "ny-power": "generated/contract.json",
  "test-42/ny": "generated/contract.test-42.json",
};

function load(file) {
  const path = fileURLToPath(new URL(file, import.meta.url));
  assert.ok(
    existsSync(path),
    `${path} is missing: run web/test.sh, or \`ny-power contract --json [--topic-root ROOT] > ${path}\``,
  );
  return JSON.parse(readFileSync(path, "utf8"));
}

const DOCS = Object.entries(GENERATED).map(([root, file]) => [root, load(file)]);

/** The stream's entry (kind, fuel, factors) for each kind of message the page knows. */
function streamKind(entry) {
  switch (entry.kind) {
    case "co2":
      return { kind: "co2", factors: FACTORS.co2 };
    case "co2Lifecycle":
      return { kind: "co2", factors: FACTORS.co2Lifecycle };
    case "history":
      return { kind: "co2_history" };
    case "fuelMix":
      return { kind: "fuel_mix" };
    case "fuel":
      return { kind: "fuel", fuel: entry.slug };
    case "cursor":
      return { kind: "cursor" };
    case "forecast":
      return { kind: "co2_forecast" };
    case "chargeWindow":
      return { kind: "charge_window" };
    case "band":
      return { kind: "co2_band" };
    default:
      throw new Error(`the page knows a kind of message the test does not: ${entry.kind}`);
  }
}

test("the documents are the stream's, under the root they were asked for", () => {
  for (const [root, doc] of DOCS) {
    assert.equal(doc.schema, 1);
    assert.equal(doc.root, root);
    assert.equal(doc.default_root, DEFAULT_TOPIC_ROOT);
  }
});

test("contract.js's fuels, tables, bands and units are the stream's", () => {
  for (const [, doc] of DOCS) {
    assert.deepEqual(FUELS, doc.fuels);
    assert.deepEqual(ZERO_CARBON_FUELS, doc.zero_carbon_fuels);
    assert.deepEqual(BANDS, doc.bands);
    assert.deepEqual(UNITS, doc.units);
    for (const name of Object.values(FACTORS)) assert.ok(doc.factors.includes(name), name);
  }
});

test("every topic the page knows is the stream's topic of that kind, retained, at its QoS", () => {
  for (const [root, doc] of DOCS) {
    const byTopic = new Map(doc.topics.map((t) => [t.topic, t]));
    const subscribed = new Set(dashboardTopicTable(root).keys());
    for (const [topic, entry] of topicTable(root)) {
      const t = byTopic.get(topic);
      assert.ok(t, `${topic}: not a topic of the stream under ${root}`);
      const want = streamKind(entry);
      assert.equal(t.kind, want.kind, topic);
      if (want.factors) assert.equal(t.factors, want.factors, topic);
      if (want.fuel) assert.equal(t.fuel, want.fuel, topic);
      assert.equal(t.qos, QOS, topic);
      if (subscribed.has(topic)) {
        // The page reads the current value from the retained message of an exact topic.
        assert.equal(t.retained, true, `${topic} is subscribed to but not retained`);
      }
    }
    // And the page knows every stream topic of the kinds it renders.
    const known = new Set(topicTable(root).keys());
    for (const t of doc.topics) {
      if (["fuel_mix", "fuel", "co2_history", "cursor", "co2_forecast", "charge_window", "co2_band"].includes(t.kind)) {
        assert.ok(known.has(t.topic), `${t.topic}: a stream topic the page does not know`);
      }
    }
  }
});

test("every example payload on a topic the page knows passes the page's validator", () => {
  for (const [root, doc] of DOCS) {
    const table = topicTable(root);
    const byTopic = new Map(doc.topics.map((t) => [t.topic, t]));
    for (const [topic] of table) {
      const state = createState();
      const stats = createStats();
      const payload = new TextEncoder().encode(byTopic.get(topic).payload);
      const r = applyMessage(state, stats, table, topic, payload);
      assert.ok(r.ok, `${topic}: the stream's example is rejected: ${r.reason}\n${byTopic.get(topic).payload}`);
      assert.equal(stats.accepted, 1);
    }
  }
});

test("the examples carry every payload field contract.js names", () => {
  const keys = new Set();
  const collect = (v) => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        keys.add(k);
        collect(x);
      }
    }
  };
  for (const [, doc] of DOCS) for (const t of doc.topics) collect(JSON.parse(t.payload));
  for (const [name, field] of Object.entries(FIELDS)) {
    assert.ok(keys.has(field), `FIELDS.${name} = "${field}" is in no payload of the stream`);
  }
});
