import { test } from "node:test";
import assert from "node:assert/strict";
import { ADVICE, INDEX_LEVELS, BANDS, DEFAULT_TOPIC_ROOT, FACTORS, FIELDS, FUELS, QOS, TOPICS, UNITS, ZERO_CARBON_FUELS } from "../src/contract.js";
import { DASHBOARD_KINDS, dashboardTopicTable, topicTable } from "../src/store.js";

test("topic suffixes are DESIGN §5's", () => {
  assert.deepEqual(TOPICS, {
    fuelMix: "upstream/fuel-mix",
    fuel: "upstream/fuel-mix/",
    co2: "computed/co2",
    co2Lifecycle: "computed/co2/lifecycle",
    history: "archive/co2/24h",
    cursor: "status/fuel-mix/updated",
    forecast: "computed/co2/forecast",
    chargeWindow: "computed/charge-window",
    band: "computed/co2/band",
  });
  assert.equal(DEFAULT_TOPIC_ROOT, "ny-power");
  assert.equal(QOS, 1);
});

test("the seven fuel slugs in DESIGN order", () => {
  assert.deepEqual(FUELS, ["dual_fuel", "natural_gas", "nuclear", "other_fossil_fuels", "other_renewables", "wind", "hydro"]);
  assert.deepEqual(ZERO_CARBON_FUELS, ["nuclear", "wind", "hydro"]);
});

test("payload field names and fixed values", () => {
  assert.deepEqual(FIELDS, {
    issued: "issued",
    ts: "ts",
    fuels: "fuels",
    totalMw: "total_mw",
    value: "value",
    values: "values",
    units: "units",
    factors: "factors",
    windows: "windows",
    hours: "hours",
    start: "start",
    end: "end",
    mean: "mean",
    nowMean: "now_mean",
    cleanerPct: "cleaner_than_now_pct",
    advice: "advice",
    historyHours: "history_hours",
    marginPct: "margin_pct",
    readyBy: "ready_by",
    readyByDefault: "ready_by_default",
    time: "time",
    band: "band",
    lowBelow: "low_below",
    highAbove: "high_above",
    windowDays: "window_days",
    learning: "learning",
    index: "index",
    indexBoundaries: "index_boundaries",
  });
  assert.deepEqual(INDEX_LEVELS, ["very_low", "low", "moderate", "high", "very_high"]);
  assert.deepEqual(BANDS, ["low", "moderate", "high"]);
  assert.deepEqual(ADVICE, ["later", "now", "not_worth_it", "learning"]);
  assert.deepEqual(UNITS, { power: "MW", intensity: "g/kWh" });
  assert.deepEqual(FACTORS, { co2: "direct", co2Lifecycle: "lifecycle" });
});

test("the default root gives exactly DESIGN §5's and docs/forecast.md's topics", () => {
  assert.deepEqual([...topicTable("ny-power").keys()].sort(), [
    "ny-power/archive/co2/24h",
    "ny-power/computed/charge-window",
    "ny-power/computed/co2",
    "ny-power/computed/co2/band",
    "ny-power/computed/co2/forecast",
    "ny-power/computed/co2/lifecycle",
    "ny-power/status/fuel-mix/updated",
    "ny-power/upstream/fuel-mix",
    "ny-power/upstream/fuel-mix/dual_fuel",
    "ny-power/upstream/fuel-mix/hydro",
    "ny-power/upstream/fuel-mix/natural_gas",
    "ny-power/upstream/fuel-mix/nuclear",
    "ny-power/upstream/fuel-mix/other_fossil_fuels",
    "ny-power/upstream/fuel-mix/other_renewables",
    "ny-power/upstream/fuel-mix/wind",
  ]);
});

test("the dashboard subscribes to exact topics only, under any root", () => {
  const topics = [...dashboardTopicTable("test-42/ny").keys()];
  assert.deepEqual(topics.sort(), [
    "test-42/ny/archive/co2/24h",
    "test-42/ny/computed/charge-window",
    "test-42/ny/computed/co2",
    "test-42/ny/computed/co2/band",
    "test-42/ny/computed/co2/forecast",
    "test-42/ny/computed/co2/lifecycle",
    "test-42/ny/upstream/fuel-mix",
  ]);
  for (const t of topics) assert.doesNotMatch(t, /[#+]/);
  assert.deepEqual(DASHBOARD_KINDS, ["co2", "co2Lifecycle", "history", "fuelMix", "forecast", "chargeWindow", "band"]);
});
