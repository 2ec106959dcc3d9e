import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMessage, createState, createStats, dashboardTopicTable, topicTable } from "../src/store.js";

const TS = "2025-02-01T05:05:00Z";
const enc = (o) => new TextEncoder().encode(JSON.stringify(o));

test("valid messages land in the state", () => {
  const state = createState();
  const stats = createStats();
  const table = topicTable("ny-power");
  const r = applyMessage(state, stats, table, "ny-power/computed/co2", enc({ ts: TS, value: 248.75, units: "g/kWh", factors: "direct" }));
  assert.deepEqual(r, { ok: true, kind: "co2", slug: undefined });
  assert.equal(state.co2.value, 248.75);
  applyMessage(state, stats, table, "ny-power/upstream/fuel-mix/wind", enc({ ts: TS, value: 671, units: "MW" }));
  assert.equal(state.fuel.wind.value, 671);
  applyMessage(state, stats, table, "ny-power/status/fuel-mix/updated", enc({ ts: TS }));
  assert.equal(state.cursor.ts, Date.parse(TS));
  assert.deepEqual({ received: stats.received, accepted: stats.accepted, rejected: stats.rejected }, { received: 3, accepted: 3, rejected: 0 });
});

test("the last valid message wins, even if older (a replay may loop)", () => {
  const state = createState();
  const stats = createStats();
  const table = topicTable("ny-power");
  const t = "ny-power/computed/co2";
  applyMessage(state, stats, table, t, enc({ ts: "2025-02-02T05:05:00Z", value: 200, units: "g/kWh", factors: "direct" }));
  applyMessage(state, stats, table, t, enc({ ts: TS, value: 248.75, units: "g/kWh", factors: "direct" }));
  assert.equal(state.co2.value, 248.75);
});

test("bad messages are counted and change nothing", () => {
  const state = createState();
  const stats = createStats();
  const table = dashboardTopicTable("ny-power");
  const good = { ts: TS, value: 248.75, units: "g/kWh", factors: "direct" };
  applyMessage(state, stats, table, "ny-power/computed/co2", enc(good));
  const before = structuredClone(state);
  const bad = [
    ["ny-power/computed/co2", new TextEncoder().encode("{oops")],
    ["ny-power/computed/co2", enc({ ...good, value: "NaN" })],
    ["ny-power/computed/co2", enc({ ...good, factors: "lifecycle" })],
    ["ny-power/computed/co2/lifecycle", enc(good)], // direct payload on the lifecycle topic
    ["ny-power/archive/co2/24h", enc({ units: "g/kWh", ts: [TS], values: [] })],
    ["ny-power/upstream/fuel-mix", enc({ ts: TS, fuels: {}, total_mw: 0 })],
    ["other/computed/co2", enc(good)], // wrong root
    ["ny-power/status/fuel-mix/updated", enc({ ts: TS })], // not a dashboard topic
  ];
  for (const [topic, payload] of bad) assert.equal(applyMessage(state, stats, table, topic, payload).ok, false, topic);
  assert.deepEqual(state, before);
  assert.equal(stats.rejected, bad.length);
  assert.equal(stats.accepted, 1);
  assert.equal(stats.rejectedReasons["unexpected topic"], 2);
  assert.deepEqual(stats.lastRejected, { topic: "ny-power/status/fuel-mix/updated", reason: "unexpected topic" });
});
