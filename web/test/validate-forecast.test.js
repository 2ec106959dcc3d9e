// Validation of the docs/forecast.md payloads: forecast, charge window, band. The "good"
// payloads are byte-for-byte what the Rust `stream` types serialise (see the stream module's
// round-trip tests), plus the store routing and rejection counting.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_FORECAST_SLOTS, parseBand, parseChargeWindow, parseForecast } from "../src/validate.js";
import { applyMessage, createState, createStats, dashboardTopicTable } from "../src/store.js";

const T0 = "2025-02-01T05:05:00Z";
const ms = Date.parse(T0);
const H = 3_600_000;
const iso = (t) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

const FORECAST = {
  issued: T0,
  ts: Array.from({ length: 24 }, (_, k) => iso(ms + k * H)),
  values: Array.from({ length: 24 }, (_, k) => 250 - k * 0.5),
  units: "g/kWh",
};
const WINDOW4 = {
  hours: 4,
  start: "2025-02-01T08:05:00Z",
  end: "2025-02-01T12:05:00Z",
  mean: 200.0,
  now_mean: 250.0,
  cleaner_than_now_pct: 20.0,
};
const CHARGE = { issued: T0, units: "g/kWh", windows: [{ ...WINDOW4, hours: 1, end: "2025-02-01T09:05:00Z" }, WINDOW4] };
const BAND = { ts: T0, value: 248.7, band: "low", low_below: 250.1, high_above: 270.4, window_days: 30, units: "g/kWh" };

const j = (o) => JSON.stringify(o);

test("forecast: the Rust payload is accepted, times in epoch ms", () => {
  const r = parseForecast(
    '{"issued":"2025-02-01T05:05:00Z","ts":["2025-02-01T05:05:00Z","2025-02-01T06:05:00Z"],"values":[250.5,240.0],"units":"g/kWh"}',
  );
  assert.deepEqual(r, { ok: true, value: { issued: ms, ts: [ms, ms + H], values: [250.5, 240] } });
  const full = parseForecast(new TextEncoder().encode(j(FORECAST)));
  assert.equal(full.ok, true);
  assert.equal(full.value.ts.length, 24);
  // An empty forecast is well-formed (nothing to draw).
  assert.equal(parseForecast(j({ ...FORECAST, ts: [], values: [] })).ok, true);
});

test("forecast: malformed payloads are rejected with a reason", () => {
  const cases = [
    [{ ...FORECAST, issued: "2025-02-01 05:05" }, /issued/],
    [{ ...FORECAST, units: "MW" }, /units/],
    [{ ...FORECAST, ts: "x" }, /not an array/],
    [{ ...FORECAST, values: FORECAST.values.slice(1) }, /differ in length/],
    [{ ...FORECAST, ts: [T0, T0], values: [1, 2] }, /not increasing at index 1/],
    [{ ...FORECAST, ts: [T0], values: [-1] }, /bad value at index 0/],
    [{ ...FORECAST, ts: [T0], values: [null] }, /bad value at index 0/],
    [{ ...FORECAST, ts: ["2025-02-01T05:05:00+01:00"], values: [1] }, /bad ts at index 0/],
    [
      {
        ...FORECAST,
        ts: Array.from({ length: MAX_FORECAST_SLOTS + 1 }, (_, k) => iso(ms + k * H)),
        values: Array.from({ length: MAX_FORECAST_SLOTS + 1 }, () => 1),
      },
      /too many slots/,
    ],
  ];
  for (const [payload, reason] of cases) {
    const r = parseForecast(j(payload));
    assert.equal(r.ok, false, j(payload).slice(0, 80));
    assert.match(r.reason, /^forecast: /);
    assert.match(r.reason, reason);
  }
  assert.equal(parseForecast("[1]").ok, false);
});

test("charge window: the Rust payload is accepted", () => {
  const r = parseChargeWindow(
    '{"issued":"2025-02-01T05:05:00Z","units":"g/kWh","windows":[{"hours":4,"start":"2025-02-01T08:05:00Z","end":"2025-02-01T12:05:00Z","mean":200.0,"now_mean":250.0,"cleaner_than_now_pct":20.0}]}',
  );
  assert.deepEqual(r, {
    ok: true,
    value: {
      issued: ms,
      windows: [{ hours: 4, start: ms + 3 * H, end: ms + 7 * H, mean: 200, nowMean: 250, cleanerPct: 20, advice: null }],
      historyHours: null,
      marginPct: null,
      readyBy: null,
      readyByDefault: null,
    },
  });
  // With the advice fields of issue 12 (the labels for Home Assistant are not the page's).
  const withAdvice = parseChargeWindow(
    '{"issued":"2025-02-01T05:05:00Z","units":"g/kWh","windows":[{"hours":4,"start":"2025-02-01T08:05:00Z","end":"2025-02-01T12:05:00Z","mean":200.0,"now_mean":250.0,"cleaner_than_now_pct":20.0,"advice":"later","start_ny":"3:05 AM today","end_ny":"7:05 AM"}],"history_hours":72,"margin_pct":5.0}',
  );
  assert.equal(withAdvice.ok, true);
  assert.equal(withAdvice.value.windows[0].advice, "later");
  assert.equal(withAdvice.value.historyHours, 72);
  assert.equal(withAdvice.value.marginPct, 5);
  assert.equal(parseChargeWindow(j(CHARGE)).value.windows.length, 2);
  assert.equal(parseChargeWindow(j({ ...CHARGE, windows: [] })).ok, true);
});

test("charge window: malformed payloads are rejected with a reason", () => {
  const w = (o) => ({ ...CHARGE, windows: [{ ...WINDOW4, ...o }] });
  const cases = [
    [{ ...CHARGE, issued: 5 }, /issued/],
    [{ ...CHARGE, units: "g/MWh" }, /units/],
    [{ ...CHARGE, windows: {} }, /not an array/],
    [{ ...CHARGE, windows: [null] }, /window 0: not an object/],
    [w({ hours: 0 }), /hours/],
    [w({ hours: 2.5 }), /hours/],
    [w({ hours: "4" }), /hours/],
    [{ ...CHARGE, windows: [WINDOW4, WINDOW4] }, /window 1: hours 4 given twice/],
    [w({ start: "soon" }), /start/],
    [w({ end: WINDOW4.start }), /bad end/],
    [w({ mean: -3 }), /mean/],
    [w({ now_mean: "250" }), /now_mean/],
    [w({ cleaner_than_now_pct: null }), /cleaner_than_now_pct/],
    [w({ advice: "maybe" }), /advice/],
    [w({ advice: null }), /advice/],
    [{ ...CHARGE, history_hours: -1 }, /history_hours/],
    [{ ...CHARGE, history_hours: 2.5 }, /history_hours/],
    [{ ...CHARGE, margin_pct: "5" }, /margin_pct/],
  ];
  for (const [payload, reason] of cases) {
    const r = parseChargeWindow(j(payload));
    assert.equal(r.ok, false, j(payload));
    assert.match(r.reason, /^charge-window: /);
    assert.match(r.reason, reason);
  }
});

test("band: the Rust payload is accepted; bad ones are rejected", () => {
  assert.deepEqual(parseBand(j(BAND)), {
    ok: true,
    value: {
      ts: ms,
      value: 248.7,
      band: "low",
      lowBelow: 250.1,
      highAbove: 270.4,
      windowDays: 30,
      hours: null,
      learning: null,
      index: null,
      indexBoundaries: null,
    },
  });
  // Issue 12's fields: the span really used, learning, the fixed index and its boundaries.
  const honest = parseBand(j({ ...BAND, window_days: 2, hours: 36, learning: true, index: "very_high", index_boundaries: [180, 205, 230, 255] }));
  assert.equal(honest.ok, true);
  assert.deepEqual(
    [honest.value.windowDays, honest.value.hours, honest.value.learning, honest.value.index, honest.value.indexBoundaries],
    [2, 36, true, "very_high", [180, 205, 230, 255]],
  );
  const cases = [
    [{ ...BAND, ts: null }, /ts/],
    [{ ...BAND, band: "LOW" }, /band is not/],
    [{ ...BAND, band: undefined }, /band is not/],
    [{ ...BAND, value: -1 }, /value/],
    [{ ...BAND, low_below: "x" }, /low_below/],
    [{ ...BAND, low_below: 300 }, /above high_above/],
    [{ ...BAND, window_days: 0 }, /window_days/],
    [{ ...BAND, units: "MW" }, /units/],
    [{ ...BAND, hours: -2 }, /hours/],
    [{ ...BAND, learning: "yes" }, /learning/],
    [{ ...BAND, index: "green" }, /index is not/],
    [{ ...BAND, index_boundaries: [180, 205, 230] }, /index_boundaries/],
    [{ ...BAND, index_boundaries: [180, 205, 200, 255] }, /index_boundaries/],
    [{ ...BAND, index_boundaries: [180, 205, "230", 255] }, /index_boundaries/],
  ];
  for (const [payload, reason] of cases) {
    const r = parseBand(j(payload));
    assert.equal(r.ok, false, j(payload));
    assert.match(r.reason, /^band: /);
    assert.match(r.reason, reason);
  }
});

test("store: the three topics are routed, malformed ones counted and ignored", () => {
  const state = createState();
  const stats = createStats();
  const table = dashboardTopicTable("ny-power");
  const enc = (o) => new TextEncoder().encode(j(o));
  assert.deepEqual(applyMessage(state, stats, table, "ny-power/computed/co2/forecast", enc(FORECAST)), {
    ok: true,
    kind: "forecast",
    slug: undefined,
  });
  assert.equal(applyMessage(state, stats, table, "ny-power/computed/charge-window", enc(CHARGE)).kind, "chargeWindow");
  assert.equal(applyMessage(state, stats, table, "ny-power/computed/co2/band", enc(BAND)).kind, "band");
  assert.equal(state.forecast.values.length, 24);
  assert.equal(state.chargeWindow.windows[1].hours, 4);
  assert.equal(state.band.band, "low");
  const before = structuredClone(state);
  const bad = [
    ["ny-power/computed/co2/forecast", enc({ ...FORECAST, units: "MW" })],
    ["ny-power/computed/charge-window", enc({ ...CHARGE, windows: [WINDOW4, WINDOW4] })],
    ["ny-power/computed/co2/band", enc({ ...BAND, band: "purple" })],
    ["ny-power/computed/co2/band", new Uint8Array([0xff, 0xfe])],
    // Payloads swapped between topics.
    ["ny-power/computed/co2/forecast", enc(CHARGE)],
    ["ny-power/computed/co2/band", enc(FORECAST)],
  ];
  for (const [topic, payload] of bad) assert.equal(applyMessage(state, stats, table, topic, payload).ok, false, topic);
  assert.deepEqual(state, before);
  assert.equal(stats.rejected, bad.length);
  assert.equal(stats.accepted, 3);
  assert.equal(stats.rejectedReasons["payload is not UTF-8"], 1);
});
