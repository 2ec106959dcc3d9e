import { test } from "node:test";
import assert from "node:assert/strict";
import { bandFor, quantile, tertiles } from "../src/band.js";

test("quantile interpolates linearly", () => {
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([10], 0.3), 10);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test("tertiles of 1..7 and unsorted input", () => {
  assert.deepEqual(tertiles([1, 2, 3, 4, 5, 6, 7]), { low: 3, high: 5 });
  assert.deepEqual(tertiles([7, 1, 6, 2, 5, 3, 4]), { low: 3, high: 5 });
  assert.equal(tertiles([1, 2, 3, 4, 5]), null);
});

test("low, moderate, high around the tertiles", () => {
  const h = [100, 110, 120, 130, 140, 150, 160]; // tertiles 120 and 140
  assert.equal(bandFor(90, h), "low");
  assert.equal(bandFor(120, h), "low");
  assert.equal(bandFor(120.1, h), "moderate");
  assert.equal(bandFor(140, h), "moderate");
  assert.equal(bandFor(140.1, h), "high");
  assert.equal(bandFor(500, h), "high");
});

test("no band without enough history or with a bad value", () => {
  assert.equal(bandFor(100, []), null);
  assert.equal(bandFor(100, [1, 2, 3, 4, 5]), null);
  assert.equal(bandFor(NaN, [1, 2, 3, 4, 5, 6]), null);
});

test("a flat history is moderate", () => {
  assert.equal(bandFor(200, [200, 200, 200, 200, 200, 200]), "moderate");
  assert.equal(bandFor(100, [200, 200, 200, 200, 200, 200]), "moderate");
});

test("does not reorder the caller's array", () => {
  const h = [5, 1, 4, 2, 3, 6];
  bandFor(3, h);
  assert.deepEqual(h, [5, 1, 4, 2, 3, 6]);
});

test("displayBand: the 30-day band message wins when it is about the reading shown", async () => {
  const { displayBand, MAX_BAND_LAG_MS } = await import("../src/band.js");
  const t = Date.parse("2025-02-01T05:05:00Z");
  const co2 = { ts: t, value: 300 };
  const history = { values: [100, 110, 120, 130, 140, 150, 160] }; // 300 is "high" against 24 h
  assert.deepEqual(displayBand(null, co2, history), { band: "high", source: "24h" });
  assert.deepEqual(displayBand({ ts: t, band: "low" }, co2, history), { band: "low", source: "30d" });
  // The previous reading's band (published a moment after the new intensity) still counts.
  assert.deepEqual(displayBand({ ts: t - 5 * 60_000, band: "moderate" }, co2, history), { band: "moderate", source: "30d" });
  assert.deepEqual(displayBand({ ts: t - MAX_BAND_LAG_MS, band: "low" }, co2, history), { band: "low", source: "30d" });
  // A band message left over from long ago does not describe this reading: fall back.
  assert.deepEqual(displayBand({ ts: t - MAX_BAND_LAG_MS - 1, band: "low" }, co2, history), { band: "high", source: "24h" });
  assert.deepEqual(displayBand({ ts: t, band: "low" }, null, null), { band: "low", source: "30d" });
  assert.equal(displayBand(null, co2, { values: [1, 2] }), null);
  assert.equal(displayBand(null, null, history), null);
});
